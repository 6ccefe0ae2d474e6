"""What one READY user task looks like in the inbox: its row and who may work it.

Candidates, in order of precedence:
1. a multi-instance child with an input item (countersign): the item (a user name) is the
   assignee and the only candidate, so each signer sees only their own child;
2. ``lane_owners[<lane>]`` in the task's data: user names and ``role:<code>`` entries replace
   the lane's role;
3. a Camunda assignment drawn on the task (``camunda:assignee``, ``candidateUsers``,
   ``candidateGroups``; ``engine.spiff.camunda``): assignee and users as users, groups as roles;
4. the lane name, as a role code of the instance's tenant;
5. no lane: the instance's initiator.
A task sent back for rework (``returns``) is assigned to whoever completed it last time.
The assignee is always also a user candidate, so "my tasks" is one lookup in the candidate index;
one who is not a candidate by the rules above (a delegate, a claim through a role) is added for
as long as they hold the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.forms import form_files
from engine.models import ProcessInstance
from engine.spiff import camunda, juel

LANE_OWNERS = "lane_owners"
ROLE_PREFIX = "role:"
RETURN_NOTE = "aicmp_return"  # task.internal_data key: set when a task was sent back to this one
MAX_NAME = 100  # width of the assignee and candidate value columns
# extra key: the assignee was added as a user candidate only while holding the task; unclaiming
# (or delegating it away) removes that candidate again
ASSIGNEE_ADDED = "assignee_added"
DRAWN_FORM = camunda.EXTENSION  # extra key: the JSON Schema of a form drawn inline (camunda:formField)


@dataclass
class TaskRow:
    """A HumanTask row (as column values) and its candidates as (kind, value) pairs."""

    values: dict[str, Any]
    candidates: list[tuple[str, str]] = field(default_factory=list)


def _fits(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME


def _clip(text: str | None) -> str | None:
    return text[:255] if text else text


def countersign_item(task: Any) -> Any:
    """The input item of a multi-instance child (None for any other task)."""
    parent = task.parent
    spec = parent.task_spec if parent is not None else None
    if not isinstance(spec, MultiInstanceTask) or spec.input_item is None:
        return None
    return task.data.get(spec.input_item.bpmn_id)


def _owners(entries: Any) -> list[tuple[str, str]]:
    """``lane_owners`` entries: "alice" is a user, "role:approver" a role; anything else is skipped."""
    out: list[tuple[str, str]] = []
    for entry in entries if isinstance(entries, list | tuple) else []:
        if not isinstance(entry, str):
            continue
        kind, value = ("role", entry[len(ROLE_PREFIX):]) if entry.startswith(ROLE_PREFIX) else ("user", entry)
        if _fits(value):
            out.append((kind, value))
    return out


def candidates(task: Any, initiator: str | None) -> tuple[str | None, list[tuple[str, str]], dict[str, Any]]:
    """(assignee, candidates, extra) for a READY user task; see the module docstring."""
    item = countersign_item(task)
    if _fits(item):
        return item, [("user", item)], {"countersign": item}
    lane = task.task_spec.lane
    owners = task.data.get(LANE_OWNERS)
    if lane and isinstance(owners, dict) and lane in owners:
        return None, _owners(owners[lane]), {"lane_owners": True}
    drawn = camunda.people(task.task_spec)
    if drawn is not None:
        return _camunda_candidates(task, drawn)
    if lane:
        return None, ([("role", lane)] if _fits(lane) else []), {}
    return None, ([("user", initiator)] if _fits(initiator) else []), {}


def _camunda_candidates(task: Any, drawn: dict[str, Any]) -> tuple[str | None, list[tuple[str, str]], dict[str, Any]]:
    """A Camunda assignment: the assignee (``${var}`` read in the sandbox; one that cannot be read
    assigns nobody) and candidate users as users, candidate groups as roles."""
    assignee = drawn.get("assignee")
    if isinstance(assignee, str) and juel.is_juel(assignee):
        try:
            assignee = task.workflow.script_engine.evaluate(task, assignee)
        except Exception:  # noqa: BLE001 - an unset variable leaves the task to its candidates
            assignee = None
    assignee = assignee if isinstance(assignee, str) and _fits(assignee) else None
    cands = [("user", u) for u in drawn.get("users", []) if _fits(u)]
    cands += [("role", g) for g in drawn.get("groups", []) if _fits(g)]
    return assignee, cands, {"camunda": True}


def _timer_at(event_task: Any) -> datetime | None:
    definition = getattr(event_task.task_spec, "event_definition", None)
    if not isinstance(definition, TimerEventDefinition) or event_task.state != TaskState.WAITING:
        return None
    value = definition.details(event_task).value
    if isinstance(value, dict):  # a cycle timer
        value = value.get("next")
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def due_at(task: Any) -> datetime | None:
    """The earliest waiting boundary timer on the task (on its multi-instance parent for a child)."""
    anchor = task.parent if isinstance(getattr(task.parent, "task_spec", None), MultiInstanceTask) else task
    split = anchor.parent
    if split is None or not isinstance(split.task_spec, BoundaryEventSplit):
        return None
    times = [t for t in (_timer_at(c) for c in split.children if c is not anchor) if t is not None]
    return min(times) if times else None


def definition_id(task: Any, row: ProcessInstance) -> int:
    """The definition whose deployment holds this task's form files (a called process has its own)."""
    workflow = task.workflow
    while workflow is not None:
        bound = row.bound_definitions.get(workflow.spec.name)
        if bound is not None:
            return int(bound)
        workflow = workflow.parent_workflow
    return row.definition_id


def task_row(task: Any, row: ProcessInstance) -> TaskRow:
    spec = task.task_spec
    assignee, cands, extra = candidates(task, row.initiator)
    note = task.internal_data.get(RETURN_NOTE)
    if isinstance(note, dict):
        extra["returned"] = note
        to = note.get("to")
        if assignee is None and _fits(to):  # back to whoever did it last time
            assignee = to
    if assignee is not None and ("user", assignee) not in cands:
        cands.append(("user", assignee))
        extra[ASSIGNEE_ADDED] = assignee
    schema, ui_schema = form_files(spec)
    drawn_form = camunda.form_schema(spec) if schema is None else None
    if drawn_form is not None:  # a form drawn inline (camunda:formField): the inbox serves and checks it
        extra[DRAWN_FORM] = drawn_form
    extra["definition_id"] = definition_id(task, row)
    values = {
        "id": str(task.id), "instance_id": row.id, "tenant_id": row.tenant_id, "process_key": row.process_key,
        "business_key": row.business_key, "task_spec": spec.bpmn_id, "task_name": _clip(spec.bpmn_name),
        "lane": _clip(spec.lane), "form_schema": schema, "form_ui_schema": ui_schema, "assignee": assignee,
        "created_at": clock.now(), "due_at": due_at(task), "extra": extra,
    }
    return TaskRow(values, list(dict.fromkeys(cands)))
