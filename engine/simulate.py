"""Run a process in memory, the way ``aicmp bpmn simulate`` and the conformance test do.

User tasks are completed with the given data over the form's defaults, service tasks answered
from stubs (``{}`` when none is given, and reported as stubbed), waiting messages answered and
timers advanced on a frozen clock. Nothing touches a database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.forms import defaults, form_files, load_schema
from engine.runtime.services import ServiceHost
from engine.runtime.steps import advance
from engine.spiff.loader import ParsedProcess
from engine.spiff.script_engine import AicmpScriptEngine
from tasks.registry import Operator

MAX_ROUNDS = 500


@dataclass
class SimulationResult:
    process_id: str
    completed: bool = False
    path: list[str] = field(default_factory=list)
    stubbed: list[str] = field(default_factory=list)
    problem: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _label(task: Any) -> str:
    spec = task.task_spec
    return spec.bpmn_name or spec.bpmn_id


def _newly_completed(workflow: BpmnWorkflow, seen: set) -> list[Any]:
    done = [t for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if t.id not in seen and getattr(t.task_spec, "bpmn_id", None)]
    done.sort(key=lambda t: t.last_state_change)
    seen.update(t.id for t in done)
    return done


def _definitions(task: Any) -> list[Any]:
    """The event definitions a waiting task listens for (event gateways and multiple events
    listen for several)."""
    definition = getattr(task.task_spec, "event_definition", None)
    if definition is None:
        return []
    return list(getattr(definition, "event_definitions", None) or [definition])


def _answer_message(workflow: BpmnWorkflow) -> bool:
    """Answer every message the first waiting task listens for (a parallel multiple event
    needs them all); returns False when no task waits for a message."""
    for task in workflow.get_tasks(state=TaskState.WAITING):
        messages = [d for d in _definitions(task) if "Message" in type(d).__name__]
        for definition in messages:
            workflow.catch(BpmnEvent(definition, payload={}, correlations=dict(workflow.correlations)))
        if messages:
            return True
    return False


def _timer_due(value: Any) -> datetime | None:
    if isinstance(value, dict):
        value = value.get("next")
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _advance_clock(workflow: BpmnWorkflow, frozen: clock.FrozenClock) -> bool:
    due = [_timer_due(e.value) for e in workflow.waiting_events() if "Timer" in (e.event_type or "")]
    due = [d for d in due if d is not None]
    if not due:
        return False
    frozen.set(max(min(due), frozen.now()) + timedelta(seconds=1))
    workflow.refresh_timers()
    return True


def simulate(process: ParsedProcess, processes: dict[str, ParsedProcess], *,
             files: dict[str, bytes], data: dict[str, Any] | None = None,
             task_data: dict[str, dict[str, Any]] | None = None,
             stubs: dict[str, Any] | None = None) -> SimulationResult:
    """Run ``process`` to its end (or until it cannot move); ``processes`` resolves call activities."""
    result = SimulationResult(process.key)
    stubs = stubs or {}
    subs = dict(process.inner_specs)
    pending, bound = list(process.called_keys), set()
    while pending:
        key = pending.pop()
        if key in bound:
            continue
        called = processes.get(key)
        if called is None:
            result.problem = f"calls process {key!r}, which is not in the file set"
            return result
        bound.add(key)
        subs[key] = called.spec
        subs.update(called.inner_specs)
        pending.extend(called.called_keys)

    def stub(name: str) -> Operator:
        if name not in stubs and name not in result.stubbed:
            result.stubbed.append(name)
        return Operator(name, lambda **_: stubs.get(name, {}))

    resolve: Callable[[str], Operator | None] = stub
    host = ServiceHost(resolve)
    frozen = clock.FrozenClock()
    with clock.local(frozen):
        wf = BpmnWorkflow(process.spec, subs, script_engine=AicmpScriptEngine(host))
        for task in wf.get_tasks(state=TaskState.READY):
            task.data.update(data or {})
        seen: set = set()
        for _ in range(MAX_ROUNDS):
            advance(wf, process.parser, host)
            result.path.extend(_label(t) for t in _newly_completed(wf, seen))
            if host.incidents:
                result.problem = host.incidents[0].message
                return result
            if wf.is_completed():
                result.completed = True
                result.data = dict(wf.data)
                return result
            ready = wf.get_tasks(state=TaskState.READY, manual=True)
            if ready:
                task = ready[0]
                schema_file, _ui = form_files(task.task_spec)
                schema = load_schema(files.get(schema_file)) if schema_file else None
                task.data.update(defaults(schema) if schema else {})
                task.data.update((task_data or {}).get(task.task_spec.bpmn_id, {}))
                task.run()
                continue
            if _answer_message(wf) or _advance_clock(wf, frozen):
                continue
            waiting = [_label(t) for t in wf.get_tasks(state=TaskState.WAITING | TaskState.STARTED)]
            result.problem = "stuck: waiting on " + (", ".join(waiting) or "nothing it can be given")
            return result
        result.problem = f"no end after {MAX_ROUNDS} rounds"
        return result
