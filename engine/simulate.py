"""Run a process in memory, the way ``aicmp bpmn simulate`` and the conformance test do.

User tasks are completed with the given data over the form's defaults, service tasks answered
from stubs (``{}`` when none is given, and reported as stubbed), waiting messages and signals answered (with
the given payload, ``{}`` when none) and timers advanced on a frozen clock. Nothing touches a database.

A user task is answered as soon as it is ready, unless ``late`` gives it an ISO 8601 duration:
then the clock first moves on by that much, so the timers drawn to fire while a person takes
their time (an escalation, a reminder, a deadline on the task's boundary) fire first; a task an
interrupting timer cancels is never answered.
"""

from __future__ import annotations

import collections
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowDataException
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessage
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.errors import InvalidInput
from engine.forms import defaults, form_files, load_schema
from engine.runtime.services import ServiceHost
from engine.runtime.steps import advance
from engine.spiff import camunda, durations
from engine.spiff.loader import ParsedProcess
from engine.spiff.script_engine import AicmpScriptEngine
from tasks.registry import Operator

MAX_STEPS = 10_000  # tasks run (engine and user tasks) before a simulation is stopped as a loop


@dataclass
class SimulationResult:
    process_id: str
    completed: bool = False
    path: list[str] = field(default_factory=list)  # names (ids where unnamed), in the order they completed
    element_ids: list[str] = field(default_factory=list)  # the same steps' BPMN element ids
    stopped_at: list[str] = field(default_factory=list)  # not completed: element ids of the unfinished tasks
    stubbed: list[str] = field(default_factory=list)
    problem: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _label(task: Any) -> str:
    spec = task.task_spec
    return spec.bpmn_name or spec.bpmn_id or spec.name


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


def _answer_message(workflow: BpmnWorkflow, payloads: dict[str, Any]) -> bool:
    """Answer every message and signal the first waiting task listens for (a parallel multiple
    event needs them all) with its payload from ``payloads`` (by name), with the correlation keys
    of the task's own (sub)process; returns False when no task waits for either."""
    for task in workflow.get_tasks(state=TaskState.WAITING):
        events = [d for d in _definitions(task) if any(k in type(d).__name__ for k in ("Message", "Signal"))]
        for definition in events:
            payload = payloads.get(definition.name, {})
            if isinstance(definition, CamundaMessage):  # a Camunda-parsed catch reads the payload wrapped
                payload = {"payload": payload, "result_var": definition.result_var}
            correlations = {**workflow.correlations, **getattr(task.workflow, "correlations", {})}
            workflow.catch(BpmnEvent(definition, payload=payload, correlations=correlations))
        if events:
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


def check_late(late: dict[str, Any]) -> dict[str, str]:
    """``late`` (user task id -> how long its person takes), each value an ISO 8601 duration;
    ``InvalidInput`` names the task and what is wrong with its value."""
    for task_id, wait in late.items():
        try:
            durations.check("timeDuration", wait)
        except durations.InvalidTimer as exc:
            raise InvalidInput(f"late: {task_id}: {exc}",
                               errors=[{"field": "late", "message": f"{task_id}: {exc}"}]) from None
    return late


def simulate(process: ParsedProcess, processes: dict[str, ParsedProcess], *,
             files: dict[str, bytes], data: dict[str, Any] | None = None,
             task_data: dict[str, dict[str, Any]] | None = None,
             stubs: dict[str, Any] | None = None, messages: dict[str, Any] | None = None,
             late: dict[str, str] | None = None, max_steps: int = MAX_STEPS) -> SimulationResult:
    """Run ``process`` to its end (or until it cannot move, loops, or has run ``max_steps``
    tasks); ``processes`` resolves call activities."""
    result = SimulationResult(process.key)
    stubs = stubs or {}
    late = check_late(late or {})  # before anything runs
    delayed: set = set()  # user tasks whose lateness has passed
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
        watch = _Watch(wf, frozen, result, max_steps)
        try:
            while True:
                advance(wf, process.parser, host, will_run=watch.step)
                watch.record_path()
                if host.incidents:
                    first = host.incidents[0]
                    result.problem = first.message
                    if first.kind == "step-limit":  # the runtime's own limit for one advance
                        result.problem += "; it kept visiting " + _most_visited(result.path)
                    return result
                if wf.is_completed():
                    result.completed = True
                    result.data = dict(wf.data)
                    return result
                watch.settled()
                ready = wf.get_tasks(state=TaskState.READY, manual=True)
                if ready:
                    task = ready[0]
                    if task.task_spec.bpmn_id in late and task.id not in delayed:  # the person takes their time
                        delayed.add(task.id)
                        frozen.set(durations.duration_timer(late[task.task_spec.bpmn_id], frozen.now()))
                        wf.refresh_timers()
                        watch.nudged()
                        continue
                    schema_file, _ui = form_files(task.task_spec)
                    schema = load_schema(files.get(schema_file)) if schema_file else None
                    task.data.update(defaults(schema) if schema else {})
                    camunda_form = None if schema else camunda.form_schema(task.task_spec)
                    task.data.update(camunda.submitted(camunda_form) if camunda_form else {})
                    task.data.update((task_data or {}).get(task.task_spec.bpmn_id, {}))
                    watch.step(task)
                    try:
                        task.run()
                    except WorkflowDataException as exc:  # an answer lacks an output the task declares
                        result.problem = f"{_label(task)}: {_missing(exc)}"
                        result.stopped_at = _elements_of(task)
                        return result
                    continue
                try:
                    answered = _answer_message(wf, messages or {})
                except Exception as exc:  # noqa: BLE001 - a correlation expression the payload cannot satisfy
                    result.problem = f"answering a waiting message: {type(exc).__name__}: {exc}"
                    return result
                if answered or _advance_clock(wf, frozen):
                    watch.nudged()
                    continue
                waiting = [_label(t) for t in wf.get_tasks(state=TaskState.WAITING | TaskState.STARTED)]
                result.problem = "stuck: waiting on " + (", ".join(waiting) or "nothing it can be given")
                return result
        except _Stop as stop:
            watch.record_path()
            result.problem = str(stop)
            return result
        finally:
            if not result.completed and not result.stopped_at:
                result.stopped_at = _open_elements(wf)


def _missing(exc: WorkflowDataException) -> str:
    """The exception's message with the data input or output it names (SpiffWorkflow's names none)."""
    item = exc.data_output if exc.data_output is not None else exc.data_input
    message = str(exc).rstrip(". ")
    if item is None or item.bpmn_id in message:
        return message
    name = f" ({item.bpmn_name})" if item.bpmn_name and item.bpmn_name != item.bpmn_id else ""
    return f"{message} {item.bpmn_id!r}{name}"


def _elements_of(task: Any) -> list[str]:
    """The element id of a task about to run; for a task of no element of its own (the hidden parent
    of a task with boundary events), those of its children."""
    own = getattr(task.task_spec, "bpmn_id", None)
    if own:
        return [own]
    ids = (getattr(c.task_spec, "bpmn_id", None) for c in task.children)
    return list(dict.fromkeys(i for i in ids if i))


def _open_elements(wf: BpmnWorkflow) -> list[str]:
    """Element ids of the tasks a run that did not finish left waiting, ready, started or failed."""
    open_states = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
    ids = (getattr(t.task_spec, "bpmn_id", None) for t in wf.get_tasks(state=open_states))
    return list(dict.fromkeys(i for i in ids if i))


class _Stop(Exception):
    """Raised from inside a run (between two tasks) to end the simulation with a problem."""


class _Watch:
    """Sees every task a simulation runs, just before it runs, and stops the run when it

    * comes back, once the engine has settled, to a state it was in before (same unfinished
      tasks, same data, same clock: the simulation is deterministic, so it would go round that
      loop for ever), naming the loop;
    * has run ``limit`` tasks (a loop whose data changes each time round), naming the elements
      it kept visiting; or
    * would make SpiffWorkflow's task tree, one level deeper for each task run in sequence and
      walked recursively by SpiffWorkflow, too deep for Python's recursion limit (the same report).
    """

    def __init__(self, wf: BpmnWorkflow, frozen: clock.FrozenClock, result: SimulationResult, limit: int) -> None:
        self.wf, self.frozen, self.result, self.limit = wf, frozen, result, limit
        self.done = 0
        self.seen: set = set()  # completed tasks already on result.path
        self.states: dict[str, int] = {}  # state signature -> len(result.path) when first seen
        self.depth: dict[Any, int] = {}
        self.max_depth = max(100, sys.getrecursionlimit() - 250)

    def record_path(self) -> None:
        done = _newly_completed(self.wf, self.seen)
        self.result.path.extend(_label(t) for t in done)
        self.result.element_ids.extend(t.task_spec.bpmn_id for t in done)

    def step(self, task: Any) -> None:
        self.done += 1
        if self.done > self.limit:
            self.record_path()
            self.result.stopped_at = _elements_of(task)
            raise _Stop(f"no end after {self.limit} steps (the step limit): a loop? It kept visiting "
                        + _most_visited(self.result.path))
        if self._depth(task) > self.max_depth:
            self.record_path()
            self.result.stopped_at = _elements_of(task)
            raise _Stop(f"no end after {self.done} steps (SpiffWorkflow cannot nest its task tree any deeper): "
                        "a loop? It kept visiting " + _most_visited(self.result.path))

    def nudged(self) -> None:
        """A message answered or the clock moved on: that counts as a step too, so a run that keeps
        answering a message nothing correlates with (no task runs, the state differs only by the
        message queue) still ends at the limit instead of spinning for ever."""
        self.done += 1
        if self.done > self.limit:
            self.record_path()
            raise _Stop(f"no end after {self.limit} steps (the step limit): it kept answering messages or "
                        "moving the clock without any task running; waiting on "
                        + (", ".join(_open_elements(self.wf)) or "nothing"))

    def settled(self) -> None:
        """Called when the engine has gone as far as it can on its own (only a user task, a
        message or the clock can move it): stop if the run was in this very state before."""
        self.record_path()
        state = _signature(self.wf, self.frozen)
        first = self.states.setdefault(state, len(self.result.path))
        if first != len(self.result.path):
            cycle = " -> ".join(_dedupe_cycle(self.result.path[first:]))
            raise _Stop(f"loop: after {self.done} steps it came back to the same state (same tasks waiting, "
                        f"same data) and would go round for ever; it kept visiting {cycle}")

    def _depth(self, task: Any) -> int:
        """Depth of ``task`` in its workflow's tree, walking up (iteratively) to the nearest task
        whose depth is known (tasks completed without running, e.g. a caught message, count too)."""
        chain = []
        node, known = task, 0
        while node is not None:
            if node.id in self.depth:
                known = self.depth[node.id]
                break
            chain.append(node)
            node = node.parent
        for n in reversed(chain):
            known += 1
            self.depth[n.id] = known
        return known


def _signature(wf: BpmnWorkflow, frozen: clock.FrozenClock) -> str:
    """Everything the rest of a (deterministic) simulation depends on once the engine has settled:
    the unfinished tasks with their state and data, the workflow's data objects and the clock.
    Equal signatures at two such points of one run mean it would repeat itself from there for ever.
    (Not between two engine tasks: there SpiffWorkflow's list of the tasks still to run in its
    current pass is state too.)"""
    live = sorted(
        json.dumps([t.task_spec.name, t.state, t.data, t.internal_data], sort_keys=True, default=repr)
        for t in wf.get_tasks(state=TaskState.NOT_FINISHED_MASK))
    return json.dumps([live, wf.data, frozen.now().isoformat()], sort_keys=True, default=repr)


def _dedupe_cycle(cycle: list[str]) -> list[str]:
    """The cycle's elements in the order first visited (a label repeated inside it once)."""
    return list(dict.fromkeys(cycle)) or ["(no element)"]


def _most_visited(path: list[str], shown: int = 8) -> str:
    """The elements visited most often in the second half of the run, with their counts."""
    tail = collections.Counter(path[len(path) // 2:])
    common = [(name, n) for name, n in tail.most_common(shown) if n > 1] or tail.most_common(shown)
    return ", ".join(f"{name} ({path.count(name)} times)" for name, _n in common) or "nothing"
