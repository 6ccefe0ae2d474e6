"""What the work orders domain hooks into the core: a save hook.

``mirror_work``: when a save moves the user tasks of a ``work_order`` process (called by
provisioning or termination, or started on its own), the work order learns which instance and
which task work it now (the operations task, then the applicant's evaluation), who returned the
operations form and who evaluated (from the task history the save just wrote). A work order whose
tasks are cancelled before it closed (its instance was cancelled, an interrupting event in the
caller) is cancelled with them, so no work order waits for a process that is gone.

It costs nothing for instances that never call ``work_order``, and no query for a save that moves
none of its user tasks.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.domains.work_orders.models import CLOSED, WorkOrder
from engine.models import TaskHistory

PROCESS_KEY = "work_order"
OPERATIONS, EVALUATION = "deliver", "evaluate"
DEADLINE = "evaluation_deadline"  # the evaluation's timer: it cancels the task and accepts the work
OPENED = "work_order"  # the process variable holding what work_orders/open returned


def _workflows(loaded: Any) -> list[Any]:
    """The live ``work_order`` (sub)workflows of the instance."""
    top = loaded.workflow
    found = [sp for sp in top.subprocesses.values() if sp.spec.name == PROCESS_KEY]
    if top.spec.name == PROCESS_KEY:
        found.append(top)
    return found


def _moved(loaded: Any) -> list[tuple[Any, str]]:
    """(task, work order id) for each operations or evaluation task whose state this save changed."""
    before, out = loaded.before, []
    for wf in _workflows(loaded):
        for task in wf.get_tasks(skip_subprocesses=True):
            if task.task_spec.bpmn_id not in (OPERATIONS, EVALUATION) or before.get(task.id) == task.state:
                continue
            opened = task.data.get(OPENED)
            work_order_id = opened.get("work_order_id") if isinstance(opened, dict) else None
            if isinstance(work_order_id, str):
                out.append((task, work_order_id))
    return out


def _actors(s: Session, instance_id: str, task_ids: list[str]) -> dict[str, str | None]:
    """Who completed each of these tasks (the history rows this save wrote), in one query."""
    rows = s.execute(select(TaskHistory.task_guid, TaskHistory.actor).where(
        TaskHistory.instance_id == instance_id, TaskHistory.task_guid.in_(task_ids),
        TaskHistory.state == "COMPLETED"))
    return {guid: actor for guid, actor in rows}


def _set(s: Session, tenant_id: str, column: str, values: list[tuple[str, Any]], **more: Any) -> None:
    """One UPDATE statement (executemany) setting ``column`` per work order id."""
    if not values:
        return
    table = WorkOrder.__table__
    stmt = (update(table).where(table.c.id == bindparam("wo_id"), table.c.tenant_id == tenant_id)
            .values({column: bindparam("wo_value"), **more}))
    s.execute(stmt, [{"wo_id": wid, "wo_value": value} for wid, value in values])


def _timed_out(task: Any) -> bool:
    """Whether the evaluation's deadline cancelled the task (the process then accepts the work)."""
    return task.task_spec.bpmn_id == EVALUATION and any(
        t.task_spec.bpmn_id == DEADLINE and t.state == TaskState.COMPLETED
        for t in task.workflow.get_tasks(skip_subprocesses=True))


def _cancel(s: Session, tenant_id: str, where: list[Any], reason: str) -> None:
    rows = s.execute(select(WorkOrder.id, WorkOrder.number).where(WorkOrder.tenant_id == tenant_id,
                                                                  WorkOrder.status.not_in(CLOSED), *where)).all()
    if not rows:
        return
    now = clock.now()
    s.execute(update(WorkOrder).where(WorkOrder.id.in_([r.id for r in rows]))
              .values(status="cancelled", task_id=None, closed_at=now, updated_at=now, comment=reason)
              .execution_options(synchronize_session=False))
    for r in rows:
        audit.record(s, action="work-order.cancelled", actor=None, tenant_id=tenant_id, target_type="work_order",
                     target_id=r.id, detail={"number": r.number, "comment": reason})


def mirror_work(s: Session, loaded: Any) -> None:
    """Save hook: see the module docstring."""
    row = loaded.row
    if row.process_key != PROCESS_KEY and PROCESS_KEY not in (row.bound_definitions or {}):
        return
    if row.status == "cancelled":
        _cancel(s, row.tenant_id, [WorkOrder.instance_id == row.id], f"its process {row.id} was cancelled")
    moved = _moved(loaded)
    if not moved:
        return
    _set(s, row.tenant_id, "task_id", [(wid, str(t.id)) for t, wid in moved if t.state == TaskState.READY],
         instance_id=row.id)
    completed = [(t, wid) for t, wid in moved if t.state == TaskState.COMPLETED]
    if completed:
        actors = _actors(s, row.id, [str(t.id) for t, _wid in completed])
        for spec, column in ((OPERATIONS, "assignee"), (EVALUATION, "evaluated_by")):
            _set(s, row.tenant_id, column, [(wid, actors.get(str(t.id))) for t, wid in completed
                                            if t.task_spec.bpmn_id == spec])
    stopped = [wid for t, wid in moved if t.state == TaskState.CANCELLED and not _timed_out(t)]
    if stopped:
        _cancel(s, row.tenant_id, [WorkOrder.id.in_(stopped)], "its process stopped waiting for it")
