"""Reading the inbox: "my tasks" as one indexed query, and single-task access checks.

"My tasks" starts from the candidate index ``(tenant_id, kind, value, task_id)``: the caller's
user name and roles pick task ids inside the tenant, the primary key joins the rows, and a
window count gives the total in the same round trip. Tasks claimed by someone else are left
out; the assignee is always a user candidate (see ``rows``), so assigned tasks need no second
branch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session

from engine.errors import Conflict, NotFound
from engine.models import HumanTask, HumanTaskCandidate, TaskHistory


@dataclass(frozen=True)
class TaskView:
    """One inbox row, as the API shows it."""

    id: str
    instance_id: str
    tenant_id: str
    process_key: str
    business_key: str | None
    task_spec: str
    task_name: str | None
    lane: str | None
    form_schema: str | None
    form_ui_schema: str | None
    assignee: str | None
    created_at: datetime
    due_at: datetime | None
    countersign: str | None = None  # the signer a countersign child belongs to
    delegated_by: str | None = None
    returned: dict[str, Any] | None = None  # who sent it back to this step, when and why

    @classmethod
    def of(cls, row: Any) -> TaskView:
        """From a HumanTask or a result row with the same column names."""
        extra = row.extra or {}
        return cls(row.id, row.instance_id, row.tenant_id, row.process_key, row.business_key, row.task_spec,
                   row.task_name, row.lane, row.form_schema, row.form_ui_schema, row.assignee, row.created_at,
                   row.due_at, extra.get("countersign"), extra.get("delegated_by"), extra.get("returned"))


@dataclass(frozen=True)
class TaskPage:
    items: list[TaskView]
    total: int
    page: int
    page_size: int


COLUMNS = [getattr(HumanTask, name) for name in (
    "id", "instance_id", "tenant_id", "process_key", "business_key", "task_spec", "task_name", "lane",
    "form_schema", "form_ui_schema", "assignee", "created_at", "due_at", "extra")]


def _matches(user: Any, roles: Any) -> Any:
    c = HumanTaskCandidate
    mine = and_(c.kind == "user", c.value == user)
    return mine if roles is None else or_(mine, and_(c.kind == "role", c.value.in_(roles)))


def visibility_clauses(with_roles: bool, every_tenant: bool = False) -> list[Any]:
    """Open tasks the ``:user`` (with ``:roles``) may see in ``:tenant_id``; ``every_tenant`` drops the
    tenant for platform staff, whose platform roles (e.g. a ``platform_operator`` lane) span tenants."""
    c, h = HumanTaskCandidate, HumanTask
    user = bindparam("user")
    roles = bindparam("roles", expanding=True) if with_roles else None
    in_tenant = [] if every_tenant else [c.tenant_id == bindparam("tenant_id")]
    ids = select(c.task_id).where(*in_tenant, _matches(user, roles))
    own = [] if every_tenant else [h.tenant_id == bindparam("tenant_id")]
    return [*own, h.id.in_(ids), or_(h.assignee.is_(None), h.assignee == user)]


SHAPES = [(roles, every) for roles in (False, True) for every in (False, True)]
# Built once: listing is the hottest read, and only the parameters change between calls.
_LIST = {shape: select(*COLUMNS, func.count().over().label("total")).where(*visibility_clauses(*shape))
         .order_by(HumanTask.created_at.desc(), HumanTask.id.desc())
         .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer)) for shape in SHAPES}
_COUNT = {shape: select(func.count()).select_from(HumanTask).where(*visibility_clauses(*shape)) for shape in SHAPES}


def shape(tenant_id: str | None, roles: Sequence[str]) -> tuple[bool, bool]:
    """Which prepared statement fits: (has roles, every tenant)."""
    return bool(roles), tenant_id is None


def params(tenant_id: str | None, user: str, roles: Sequence[str], **more: Any) -> dict[str, Any]:
    found = {"user": user, **more}
    if tenant_id is not None:
        found["tenant_id"] = tenant_id
    if roles:
        found["roles"] = list(roles)
    return found


def list_query(tenant_id: str | None, user: str, roles: Sequence[str], limit: int, offset: int) -> Any:
    """The listing statement with its parameters bound (for EXPLAIN; ``list_page`` runs it)."""
    return _LIST[shape(tenant_id, roles)].params(params(tenant_id, user, roles, limit=limit, offset=offset))


def list_page(s: Session, tenant_id: str | None, user: str, roles: Sequence[str], page: int,
              page_size: int) -> TaskPage:
    """``tenant_id`` None: across tenants (platform staff)."""
    offset = (page - 1) * page_size
    key = shape(tenant_id, roles)
    rows = s.execute(_LIST[key], params(tenant_id, user, roles, limit=page_size, offset=offset)).all()
    # past the last page the window count has no row to ride on: count separately (rare)
    total = rows[0].total if rows else (s.scalar(_COUNT[key], params(tenant_id, user, roles)) if offset else 0)
    return TaskPage([TaskView.of(r) for r in rows], int(total), page, page_size)


def _in_tenant(model: Any, tenant_id: str | None) -> list[Any]:
    return [] if tenant_id is None else [model.tenant_id == tenant_id]


def _ended(s: Session, tenant_id: str | None, task_id: str) -> Exception:
    """Why a task id has no open row: completed or cancelled in this tenant (409), else unknown (404)."""
    ended = s.scalar(select(TaskHistory.state).where(
        *_in_tenant(TaskHistory, tenant_id), TaskHistory.task_guid == task_id,
        TaskHistory.state.in_(("COMPLETED", "CANCELLED"))).limit(1))
    if ended is not None:  # it existed in this tenant: a late second completion is a conflict
        return Conflict(f"task {task_id} is no longer open ({ended.lower()})")
    return NotFound(f"no open task {task_id}")


def instance_of(s: Session, tenant_id: str | None, task_id: str) -> str:
    """The instance of an open task in the tenant, to lock before the full check under the lock
    (``visible_row``); NotFound or Conflict as ``visible_row`` answers for a task with no open row."""
    found = s.scalar(select(HumanTask.instance_id).where(HumanTask.id == task_id, *_in_tenant(HumanTask, tenant_id)))
    if found is None:
        raise _ended(s, tenant_id, task_id)
    return found


def candidates_of(s: Session, task_id: str) -> list[tuple[str, str]]:
    c = HumanTaskCandidate
    return [(k, v) for k, v in s.execute(select(c.kind, c.value).where(c.task_id == task_id)
                                          .order_by(c.kind, c.value))]


@functools.cache
def _visible_row_statement(with_roles: bool, in_tenant: bool, lock: bool) -> Any:
    """``visible_row``'s query, built once per shape (it runs on every task completion)."""
    c = HumanTaskCandidate
    roles = bindparam("roles", expanding=True) if with_roles else None
    candidate = exists().where(c.task_id == HumanTask.id, c.tenant_id == HumanTask.tenant_id,
                               _matches(bindparam("user"), roles))
    q = select(HumanTask, candidate.label("is_candidate")).where(
        HumanTask.id == bindparam("task_id"), *([HumanTask.tenant_id == bindparam("tenant_id")] if in_tenant else []))
    return q.with_for_update(of=HumanTask) if lock else q


def visible_row(s: Session, tenant_id: str | None, task_id: str, user: str, roles: Sequence[str], *,
                lock: bool = False) -> HumanTask:
    """The row, if the caller is its assignee or one of its candidates; NotFound otherwise (a task
    outside someone's inbox is not revealed to them). One query: the row and the candidate check."""
    params: dict[str, Any] = {"task_id": task_id, "user": user}
    if roles:
        params["roles"] = list(roles)
    if tenant_id is not None:
        params["tenant_id"] = tenant_id
    found = s.execute(_visible_row_statement(bool(roles), tenant_id is not None, lock), params).first()
    if found is None:
        raise _ended(s, tenant_id, task_id)
    row, is_candidate = found
    if row.assignee != user and not is_candidate:
        raise NotFound(f"no open task {task_id}")
    return row
