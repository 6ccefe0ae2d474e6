"""What a workflow waits on: its waiting catch events and what each listens for.

Shared by the runtime (``Runtime.signal``), ``engine.timers`` and ``engine.messages``; it knows
SpiffWorkflow so that domain code does not have to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState


def event_definitions(task: Any) -> list[Any]:
    """The event definitions a waiting catch task listens for (an event-based gateway or a
    multiple event holds several)."""
    definition = task.task_spec.event_definition
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition]


def waiting_catches(workflow: Any) -> Iterable[Any]:
    """Every WAITING catch task of the workflow and its subprocesses (Spiff's own index)."""
    return [t for t in workflow.event_manager.tasks.values() if t.state == TaskState.WAITING]


def message_event(workflow: Any, name: str, payload: dict[str, Any]) -> BpmnEvent | None:
    """The event for message ``name`` (without correlations) if a catch of the workflow waits for it now."""
    for task in waiting_catches(workflow):
        for definition in event_definitions(task):
            if isinstance(definition, MessageEventDefinition) and definition.name == name:
                return BpmnEvent(definition, payload=payload)
    return None
