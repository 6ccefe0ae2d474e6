"""What may happen to a work order, in the caller's transaction: open (once per source key), move
along its lifecycle (``TRANSITIONS``), escalate. The port calls these for a process; the save hook
(``hooks``) records which instance and task work the order and cancels it with its instance.

Every change is audited. A move to the status the order already has changes nothing and returns
it as it is, so an operator that runs twice (a retried job) is harmless.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.domains.orders import service as orders
from engine.domains.orders.models import Order
from engine.domains.resources.models import CloudResource
from engine.domains.work_orders.models import CLOSED, KINDS, MAX_COMMENT, MAX_SOURCE_KEY, MAX_TITLE, WorkOrder
from engine.models import BusinessSystem
from engine.models.base import new_id
from engine.ports import LAST_WRITE

MAX_JSON = 20_000  # characters of details or result as JSON: work orders carry notes, not payloads
# status -> the statuses it may be reached from
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "done": ("open", "reopened"),
    "reopened": ("done",),
    "accepted": ("done",),
    "cancelled": ("open", "reopened", "done"),
}


class Refusal(Exception):
    """A request the rules refuse; ``code`` becomes the process's BPMN error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _text(value: Any, name: str, limit: int, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise Refusal("INVALID_WORK_ORDER", f"{name} is required")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise Refusal("INVALID_WORK_ORDER", f"{name} must be text of at most {limit} characters")
    return value


def _json(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Refusal("INVALID_WORK_ORDER", f"{name} must be an object")
    try:
        text = json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise Refusal("INVALID_WORK_ORDER", f"{name} must be plain JSON") from exc
    if len(text) > MAX_JSON:
        raise Refusal("INVALID_WORK_ORDER", f"{name} must be at most {MAX_JSON} characters as JSON")
    return json.loads(text)


def describe(w: WorkOrder) -> dict[str, Any]:
    """What a process gets back (``work_order_outcome`` among others)."""
    return {"work_order_id": w.id, "number": w.number, "status": w.status, "result": w.result or {},
            "applicant": w.applicant, "comment": w.comment}


def by_source(s: Session, tenant_id: str, source_key: str) -> WorkOrder | None:
    return s.scalars(select(WorkOrder).where(WorkOrder.tenant_id == tenant_id,
                                             WorkOrder.source_key == source_key)).first()


def _owner(s: Session, tenant_id: str, order_id: str | None, resource_id: str | None
           ) -> tuple[str | None, str | None, str | None]:
    """(applicant, organization, business system) of the order or resource the work is for; ids of
    another tenant are refused as unknown."""
    if order_id is not None:
        known = orders.held(s, order_id, tenant_id)  # the order the same step created or locked
        order = known.order if known is not None else \
            s.scalars(select(Order).where(Order.id == order_id, Order.tenant_id == tenant_id)).first()
        if order is None:
            raise Refusal("UNKNOWN_ORDER", f"no order {order_id!r}")
        return order.applicant, order.organization_id, order.business_system_id
    if resource_id is not None:
        res = s.scalars(select(CloudResource).where(CloudResource.id == resource_id,
                                                    CloudResource.tenant_id == tenant_id)).first()
        if res is None:
            raise Refusal("UNKNOWN_RESOURCE", f"no resource {resource_id!r}")
        org = None
        if res.business_system_id is not None:
            org = s.scalar(select(BusinessSystem.organization_id).where(BusinessSystem.id == res.business_system_id))
        return None, org, res.business_system_id
    return None, None, None


def _insert(s: Session) -> Any:
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert


def open_order(s: Session, tenant_id: str, *, kind: Any, title: Any, details: Any, source_key: Any,
               order_id: Any = None, resource_id: Any = None, unit_id: Any = None,
               initiator: str | None = None) -> tuple[WorkOrder, bool]:
    """The work order of ``source_key`` in the tenant: the existing one, or a new open one.
    Returns (work order, created). The applicant is the order's; without an order, ``initiator``
    (who started the process)."""
    if kind not in KINDS:
        raise Refusal("INVALID_WORK_ORDER", f"kind must be one of {', '.join(KINDS)}")
    key = _text(source_key, "source_key", MAX_SOURCE_KEY, required=True)
    assert key is not None
    name = _text(title, "title", MAX_TITLE, required=True)
    ids = {n: _text(v, n, 36) for n, v in (("order_id", order_id), ("resource_id", resource_id),
                                           ("unit_id", unit_id))}
    applicant, org, system = _owner(s, tenant_id, ids["order_id"], ids["resource_id"])
    now = clock.now()
    values = {"id": new_id(), "tenant_id": tenant_id, "number": orders.new_number("WO"),
              "kind": kind, "status": "open", "title": name, "details": _json(details, "details"), "result": None,
              "source_key": key, **ids, "organization_id": org, "business_system_id": system,
              "applicant": applicant or initiator, "reopened": 0, "created_at": now, "updated_at": now}
    # the key opened before (a repeat), or by a concurrent opener that wins or waits for us: never a
    # second row, never a failure; the row written comes back as the ORM object (RETURNING), an
    # existing one is read (a new one, the usual case, costs no read first). The port call's last
    # write: what follows only reads and defers the audit entry, so no SAVEPOINT guards it
    w = s.scalars(_insert(s)(WorkOrder).values(**values)
                  .on_conflict_do_nothing(index_elements=["tenant_id", "source_key"])
                  .returning(WorkOrder).execution_options(**{LAST_WRITE: True})).first()
    if w is None:
        winner = by_source(s, tenant_id, key)
        assert winner is not None
        return winner, False
    audit.record(s, action="work-order.open", actor=None, tenant_id=tenant_id, target_type="work_order",
                 target_id=w.id, detail={"number": w.number, "kind": kind, "source_key": key,
                                         "order_id": w.order_id, "resource_id": w.resource_id})
    return w, True


def move(s: Session, w: WorkOrder, status: Any, *, result: Any = None, comment: Any = None) -> WorkOrder:
    """Move ``w`` to ``status`` (``TRANSITIONS``): done carries the operations result, reopened
    and the closing statuses the applicant's comment."""
    if status not in TRANSITIONS:
        raise Refusal("INVALID_STATUS", f"status must be one of {', '.join(TRANSITIONS)}")
    note = _text(comment, "comment", MAX_COMMENT)
    if w.status == status:
        return w
    if w.status not in TRANSITIONS[status]:
        raise Refusal("WORK_ORDER_STATE", f"work order {w.number} is {w.status}; it cannot become {status}")
    now = clock.now()
    if status == "done":
        outcome = _json(result, "result")
        if not outcome:
            raise Refusal("INVALID_WORK_ORDER", "a done work order carries the operations result")
        w.result = outcome
    if status == "reopened":
        w.reopened = (w.reopened or 0) + 1
    if status in ("reopened", *CLOSED) and note is not None:
        w.comment = note
    if status in CLOSED:
        w.closed_at, w.task_id = now, None
    previous, w.status, w.updated_at = w.status, status, now
    audit.record(s, action=f"work-order.{status}", actor=None, tenant_id=w.tenant_id, target_type="work_order",
                 target_id=w.id, detail={"number": w.number, "from": previous, "comment": note})
    return w


def escalate(s: Session, w: WorkOrder) -> WorkOrder:
    """Operations did not finish in time: note when it was first escalated (later escalations of a
    reopened order keep that time)."""
    if w.status in CLOSED:
        return w
    if w.escalated_at is None:
        w.escalated_at = w.updated_at = clock.now()
    audit.record(s, action="work-order.escalate", actor=None, tenant_id=w.tenant_id, target_type="work_order",
                 target_id=w.id, detail={"number": w.number, "status": w.status})
    return w
