"""Send a user task back to the user task before it on the same path ("return for rework").

The previous user task is the nearest COMPLETED user task among the task's ancestors (crossing
out of a subprocess or call activity into its caller). SpiffWorkflow's ``reset_from_task_id``
drops everything after it and makes it READY again with the data it was completed with, so the
form opens with the earlier answers. The person who completed it gets it back (the inbox row
names them as assignee) with the return note; a history row records the return and its comment.
"""

from __future__ import annotations

import copy
from typing import Any
from uuid import UUID

from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.errors import Conflict, NotFound
from engine.inbox.rows import RETURN_NOTE
from engine.models import TaskHistory
from engine.runtime.steps import advance


def previous_user_task(task: Any) -> Any:
    current = task
    while True:
        parent = current.parent
        if parent is None:
            workflow = current.workflow
            if workflow.parent_task_id is None:
                return None
            parent = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
        if parent.task_spec.manual and parent.state == TaskState.COMPLETED:
            return parent
        current = parent


def _forget_removed_catches(workflow: Any) -> None:
    """SpiffWorkflow 3.2's reset drops tasks from the tree but not from the event manager's index
    of waiting catches: a removed boundary timer would be refreshed (and crash on its missing
    parent) or be mirrored as a pending timer. Prune what is no longer in a live workflow."""
    live = {id(workflow), *(id(sp) for sp in workflow.subprocesses.values())}
    index = workflow.event_manager.tasks
    for task_id, task in list(index.items()):
        if id(task.workflow) not in live or task.workflow.tasks.get(task_id) is not task:
            del index[task_id]


def _last_actor(s: Session, instance_id: str, task_guid: str) -> str | None:
    return s.scalar(select(TaskHistory.actor).where(
        TaskHistory.instance_id == instance_id, TaskHistory.task_guid == task_guid,
        TaskHistory.state == "COMPLETED").order_by(TaskHistory.id.desc()).limit(1))


def ready_user_task(workflow: Any, task_id: str) -> Any:
    try:
        task = workflow.get_task_from_id(UUID(task_id))
    except (ValueError, TaskNotFoundException):
        task = None
    if task is None:
        raise NotFound(f"no task {task_id} in this instance")
    if task.state != TaskState.READY or not task.task_spec.manual:
        raise Conflict(f"task {task_id} is not waiting for input")
    return task


def send_back(s: Session, loaded: Any, task_id: str, *, user: str, comment: str) -> Any:
    """Reset ``loaded``'s workflow to the user task before ``task_id``; returns that task.
    Runs inside ``Runtime.mutation`` (the caller's transaction saves it)."""
    workflow, row = loaded.workflow, loaded.row
    task = ready_user_task(workflow, task_id)
    previous = previous_user_task(task)
    if previous is None:
        raise Conflict(f"task {task.task_spec.bpmn_id!r} has no earlier user task to return to")
    spec = task.task_spec
    s.add(TaskHistory(instance_id=row.id, tenant_id=row.tenant_id, task_guid=str(task.id),
                      task_spec=spec.bpmn_id, task_name=spec.bpmn_name, task_type=type(spec).__name__,
                      state="CANCELLED", actor=user,
                      data_changed={"returned_to": previous.task_spec.bpmn_id, "comment": comment}))
    note = {"by": user, "comment": comment, "from": spec.bpmn_id, "at": clock.now().isoformat(),
            "to": _last_actor(s, row.id, str(previous.id))}
    workflow.reset_from_task_id(previous.id, data=copy.deepcopy(previous.data))
    _forget_removed_catches(workflow)
    previous.internal_data[RETURN_NOTE] = note
    advance(workflow, loaded.kind, loaded.host)
    return previous
