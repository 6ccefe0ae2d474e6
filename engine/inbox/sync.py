"""The inbox save hook: keep one ``human_tasks`` row per READY user task of the saved instance.

It runs on every save, so it works from the difference between the READY user tasks now and
those in the snapshot the instance was loaded with (``Loaded.before``), which is exactly what the
previous save's hook mirrored, in the same transaction as that save:
- nothing changed (a service callback, a timer or message that moved no user task): no query;
- a user task left READY: one DELETE of the instance's rows that are not READY now (their
  candidates go by ON DELETE CASCADE), which also clears any stray row;
- a user task became READY: one INSERT of the new rows and one of their candidates; a row that
  somehow exists already is kept (ON CONFLICT DO NOTHING) instead of failing the save.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.inbox.rows import task_row
from engine.models import HumanTask, HumanTaskCandidate


def _was_user_task(workflow: Any, task_id: UUID) -> bool:
    """Whether a task READY at load time was a user task (True too if it left the tree)."""
    try:
        task = workflow.get_task_from_id(task_id)
    except TaskNotFoundException:
        return True
    return task is None or bool(task.task_spec.manual)


def changes(workflow: Any, before: dict[UUID, int], ready_now: list[Any]) -> tuple[dict[UUID, Any], list[Any], bool]:
    """(READY user tasks now, those among them that are new, whether any user task left READY)."""
    ready = {t.id: t for t in ready_now}
    was_ready = [tid for tid, state in before.items() if state == TaskState.READY]
    new = [task for tid, task in ready.items() if before.get(tid) != TaskState.READY]
    left = any(tid not in ready and _was_user_task(workflow, tid) for tid in was_ready)
    return ready, new, left


_TASKS, _CANDIDATES = HumanTask.__table__, HumanTaskCandidate.__table__


def _insert(conn: Any, table: Any) -> Any:
    ins = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return ins(table).on_conflict_do_nothing()


def sync_inbox(s: Session, loaded: Any) -> None:
    """Save hook: reconcile the instance's inbox rows with its READY user tasks."""
    workflow, row = loaded.workflow, loaded.row
    ready, new, left = changes(workflow, loaded.before, loaded.ready_user_tasks)
    if not (left or new):
        return
    conn = s.connection()  # Core statements: no ORM bookkeeping for rows nobody loads here
    if left:
        stale = delete(_TASKS).where(_TASKS.c.instance_id == row.id)
        if ready:
            stale = stale.where(_TASKS.c.id.not_in([str(tid) for tid in ready]))
        conn.execute(stale)
    if not new:
        return
    rows = [task_row(task, row) for task in new]
    conn.execute(_insert(conn, _TASKS), [r.values for r in rows])
    cands = [{"task_id": r.values["id"], "kind": kind, "value": value, "tenant_id": row.tenant_id}
             for r in rows for kind, value in r.candidates]
    if cands:
        conn.execute(_insert(conn, _CANDIDATES), cands)
