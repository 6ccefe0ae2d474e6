"""Work orders for the API: the filtered list, one work order, the CSV rows. Read only: work
orders are opened and moved by ``bpmn/work_order.bpmn``, and worked through the task inbox.

Who sees what (``work-order:read`` and its data scope): platform staff every tenant's; a tenant's
users their tenant's, narrowed by their role's scope (the order's organisation and business
system, and ``mine``: the work orders they are the applicant of). Another tenant's work order is
answered as not found.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from engine.domains.work_orders.models import KINDS, SHOWN_STATUSES, WorkOrder
from engine.errors import InvalidInput, NotFound
from engine.models import HumanTask
from engine.principal import Principal
from engine.tenancy.scope import scope_where

if TYPE_CHECKING:
    from engine.core import Engine

READ = "work-order:read"
EXPORT_LIMIT = 50_000
WAITING = ("open", "reopened")  # statuses whose operations task someone may hold (then: claimed)
CSV_COLUMNS = ("number", "tenant_id", "kind", "status", "title", "order_id", "resource_id", "unit_id", "applicant",
               "assignee", "evaluated_by", "reopened", "escalated_at", "created_at", "updated_at", "closed_at",
               "result", "notes", "comment")


def field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


def _base(engine: Engine, principal: Principal) -> Select:
    """The work orders the principal may read, each with who holds its open task in the inbox
    (``holder``; NULL: nobody, or no task open)."""
    return (select(WorkOrder, HumanTask.assignee.label("holder"))
            .outerjoin(HumanTask, and_(HumanTask.id == WorkOrder.task_id, HumanTask.tenant_id == WorkOrder.tenant_id))
            .where(*scope_where(engine.authorizer, principal, READ, WorkOrder, creator=WorkOrder.applicant)))


def _status_clause(status: str) -> Any:
    if status == "claimed":
        return and_(WorkOrder.status.in_(WAITING), HumanTask.assignee.is_not(None))
    if status in WAITING:
        return and_(WorkOrder.status == status, HumanTask.assignee.is_(None))
    return WorkOrder.status == status


def _filtered(q: Select, principal: Principal, *, status: str | None = None, kind: str | None = None,
              order_id: str | None = None, resource_id: str | None = None, created_from: datetime | None = None,
              created_to: datetime | None = None, tenant_id: str | None = None) -> Select:
    if status is not None and status not in SHOWN_STATUSES:
        raise field_error("status", f"one of {', '.join(SHOWN_STATUSES)}")
    if kind is not None and kind not in KINDS:
        raise field_error("kind", f"one of {', '.join(KINDS)}")
    if created_from is not None and created_to is not None and created_from > created_to:
        raise field_error("created_to", "must not be before created_from")
    if status:
        q = q.where(_status_clause(status))
    for column, value in ((WorkOrder.kind, kind), (WorkOrder.order_id, order_id),
                          (WorkOrder.resource_id, resource_id)):
        if value:
            q = q.where(column == value)
    if tenant_id and principal.is_platform:
        q = q.where(WorkOrder.tenant_id == tenant_id)
    if created_from is not None:
        q = q.where(WorkOrder.created_at >= created_from)
    if created_to is not None:
        q = q.where(WorkOrder.created_at < created_to)
    return q


def describe(w: WorkOrder, holder: str | None) -> dict[str, Any]:
    """A work order as the API shows it: ``claimed`` while someone holds its operations task."""
    claimed = w.status in WAITING and holder is not None and w.task_id is not None
    return {"id": w.id, "number": w.number, "tenant_id": w.tenant_id, "kind": w.kind,
            "status": "claimed" if claimed else w.status, "title": w.title, "details": w.details or {},
            "result": w.result, "order_id": w.order_id, "resource_id": w.resource_id, "unit_id": w.unit_id,
            "organization_id": w.organization_id, "business_system_id": w.business_system_id,
            "applicant": w.applicant, "instance_id": w.instance_id, "task_id": w.task_id,
            "claimed_by": holder if claimed else None, "assignee": w.assignee, "evaluated_by": w.evaluated_by,
            "comment": w.comment, "reopened": w.reopened, "escalated_at": w.escalated_at,
            "created_at": w.created_at, "updated_at": w.updated_at, "closed_at": w.closed_at}


def list_work_orders(engine: Engine, principal: Principal, *, offset: int = 0, limit: int = 20,
                     **filters: Any) -> tuple[list[dict[str, Any]], int]:
    """Newest first."""
    q = _filtered(_base(engine, principal), principal, **filters)
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
        rows = s.execute(q.order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()).offset(offset).limit(limit))
        return [describe(w, holder) for w, holder in rows], int(total)


def _one(s: Session, engine: Engine, principal: Principal, work_order_id: str) -> dict[str, Any]:
    found = s.execute(_base(engine, principal).where(WorkOrder.id == work_order_id)).first()
    if found is None:
        raise NotFound(f"work order {work_order_id} not found")
    return describe(*found)


def get_work_order(engine: Engine, principal: Principal, work_order_id: str) -> dict[str, Any]:
    with engine.db.read() as s:
        return _one(s, engine, principal, work_order_id)


def _csv_row(w: dict[str, Any]) -> list[Any]:
    result = w["result"] or {}
    values = {**w, "result": result.get("result"), "notes": result.get("notes")}
    return ["" if (v := values[c]) is None else (v.isoformat() if isinstance(v, datetime) else v)
            for c in CSV_COLUMNS]


def export_rows(engine: Engine, principal: Principal, **filters: Any) -> Iterator[list[Any]]:
    """The header, then one row per work order the filters select (newest first, at most
    ``EXPORT_LIMIT``), for a CSV export."""
    q = _filtered(_base(engine, principal), principal, **filters)
    yield list(CSV_COLUMNS)
    with engine.db.read() as s:
        rows = s.execute(q.order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()).limit(EXPORT_LIMIT))
        for w, holder in rows:
            yield _csv_row(describe(w, holder))
