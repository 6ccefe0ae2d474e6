"""Advance a workflow as far as it can go now, the same way everywhere (runtime, simulate).

Operator failures become BPMN errors carrying the operator's error code: an error boundary
event catches them where the model has one, otherwise the failure becomes an incident. A
script or expression that fails leaves its task in ERROR and also becomes an incident; the
instance's state is still saved, so nothing done before the failure is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition as BpmnError
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition as SpiffError
from SpiffWorkflow.util.task import TaskState

from engine.runtime.services import IncidentNote, ServiceHost
from engine.sandbox import step_budget

_ERROR_CLASS = {"spiff": SpiffError, "camunda": BpmnError}


def _throw(workflow: Any, kind: str, host: ServiceHost) -> None:
    """Turn each collected operator failure into a BPMN error, or an incident if uncaught."""
    failures, host.failures = host.failures, []
    for failure in failures:
        err = failure.error
        definition = _ERROR_CLASS[kind](err.code, code=err.code)
        payload = {"code": err.code, "message": err.message, "details": err.details,
                   "operator": failure.operator}
        event = BpmnEvent(definition, payload=payload, target=failure.task.workflow)
        catchers = workflow.get_tasks(catches_event=event, state=TaskState.NOT_FINISHED_MASK)
        if catchers:
            # the catcher stores the payload under its own event name: throw under that name
            definition.name = catchers[0].task_spec.event_definition.name
            workflow.catch(event)
        else:
            host.incidents.append(IncidentNote(failure.task, "bpmn-error",
                                               f"uncaught BPMN error {err.code}: {err.message}",
                                               error_code=err.code, operator=failure.operator))


def _errored_task(workflow: Any, exc: SpiffWorkflowException) -> Any:
    task = getattr(exc, "task", None)
    if task is not None:
        return task
    return workflow.get_next_task(state=TaskState.ERROR)


MAX_STEPS = 500
"""Engine steps one ``advance`` may run. A model can loop without any script (a sequence flow back
to an earlier task) and SpiffWorkflow would step it inside the caller's transaction until, about
1,000 steps deep, its recursive task iteration loses sight of the tasks and reports the workflow
*completed*. Past this many steps the run stops where it is and the instance gets an incident
(``step-limit``); retrying it runs the next steps."""


SCRIPT_SECONDS = 2.0
SCRIPT_ITERATIONS = 200_000
"""What all scripts, conditions and expressions of one ``advance`` may use together. ``advance``
runs inside the caller's write transaction (on SQLite: the database's one write lock), so this is
the longest any model's scripts can hold up another tenant's writes; past it the step's scripts
fail with ``ScriptLimitExceeded`` and the instance gets an incident."""


class _StepLimit(Exception):
    def __init__(self, task: Any) -> None:
        super().__init__(f"more than {MAX_STEPS} engine steps without waiting for anything: the model "
                         f"loops (last at {task.task_spec.bpmn_id or task.task_spec.name})")
        self.task = task


def advance(workflow: Any, kind: str, host: ServiceHost, *,
            will_run: Callable[[Any], None] | None = None) -> None:
    """Run engine steps until only people, clocks, messages or outside results can move it.

    ``will_run`` is called with each task before it runs (simulate counts steps with it; an
    exception it raises stops the run and propagates). At most ``MAX_STEPS`` steps: then the
    instance gets an incident (``step-limit``)."""
    steps = 0

    def counted(task: Any) -> None:
        nonlocal steps
        steps += 1
        if steps > MAX_STEPS:
            raise _StepLimit(task)
        if will_run is not None:
            will_run(task)

    with step_budget(seconds=SCRIPT_SECONDS, iterations=SCRIPT_ITERATIONS):
        while True:
            try:
                workflow.do_engine_steps(will_complete_task=counted)
            except _StepLimit as exc:
                host.incidents.append(IncidentNote(exc.task, "step-limit", str(exc)))
                return
            except SpiffWorkflowException as exc:
                task = _errored_task(workflow, exc)
                host.incidents.append(IncidentNote(task, "script-error", str(exc)))
                return
            if not host.failures:
                return
            _throw(workflow, kind, host)
