"""Advance a workflow as far as it can go now, the same way everywhere (runtime, simulate).

Operator failures become BPMN errors carrying the operator's error code: an error boundary
event catches them where the model has one, otherwise the failure becomes an incident. A
script or expression that fails leaves its task in ERROR and also becomes an incident; the
instance's state is still saved, so nothing done before the failure is lost.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition as BpmnError
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition as SpiffError
from SpiffWorkflow.util.task import TaskState

from engine.runtime.services import IncidentNote, ServiceHost

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


def advance(workflow: Any, kind: str, host: ServiceHost) -> None:
    """Run engine steps until only people, clocks, messages or outside results can move it."""
    while True:
        try:
            workflow.do_engine_steps()
        except SpiffWorkflowException as exc:
            task = _errored_task(workflow, exc)
            host.incidents.append(IncidentNote(task, "script-error", str(exc)))
            return
        if not host.failures:
            return
        _throw(workflow, kind, host)
