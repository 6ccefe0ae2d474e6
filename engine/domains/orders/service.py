"""Orders: one per approved application, with the approved items (fulfilment comes later).

Created by the ``orders/create`` operator through the orders port, in the transaction of the
process step that reached it; a repeat for the same application returns the existing order.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors import vector
from engine import audit, clock
from engine.domains.orders.models import Order, OrderItem
from engine.models.base import new_id

if TYPE_CHECKING:
    from engine.domains.applications.models import Application

ITEM_FIELDS = ("product_id", "spec_id", "product_name", "spec_name", "quantity", "term_months",
               *vector.LINE_FIELDS)


def new_number(s: Session, model: Any, tenant_id: str, prefix: str) -> str:
    """``PREFIX20261128-3F9A1C2B``: the day it was made and 32 random bits, not yet used in the
    tenant (the unique constraint on (tenant, number) backs the check)."""
    for _attempt in range(8):
        number = f"{prefix}{clock.now():%Y%m%d}-{secrets.token_hex(4).upper()}"
        taken = s.scalar(select(model.id).where(model.tenant_id == tenant_id, model.number == number))
        if taken is None:
            return number
    raise RuntimeError("could not find a free document number")  # 8 collisions in a row: the RNG is broken


def for_application(s: Session, application_id: str) -> Order | None:
    return s.scalars(select(Order).where(Order.application_id == application_id)).first()


def create_order(s: Session, application: Application, lines: list[dict[str, Any]]) -> Order:
    """A new order for ``application`` (which has none) with ``lines``; written when the session
    flushes (ids are assigned here, so nothing needs flushing before)."""
    order = Order(id=new_id(), tenant_id=application.tenant_id,
                  number=new_number(s, Order, application.tenant_id, "OR"), application_id=application.id,
                  organization_id=application.organization_id, business_system_id=application.business_system_id,
                  applicant=application.applicant, status="created")
    s.add(order)
    s.add_all(OrderItem(order_id=order.id, tenant_id=order.tenant_id, position=i,
                        **{f: line[f] for f in ITEM_FIELDS}) for i, line in enumerate(lines))
    audit.record(s, action="order.create", actor=None, tenant_id=order.tenant_id, target_type="order",
                 target_id=order.id, detail={"number": order.number, "application": application.number,
                                             "lines": len(lines)})
    return order


def describe_for_application(s: Session, application_id: str) -> dict[str, Any] | None:
    """The application's order with its items (None without one): one statement, the order joined
    with its items."""
    rows = s.execute(select(Order, OrderItem).outerjoin(OrderItem, OrderItem.order_id == Order.id)
                     .where(Order.application_id == application_id).order_by(OrderItem.position)).all()
    if not rows:
        return None
    order = rows[0][0]
    items = [item for _o, item in rows if item is not None]
    described = _described(order, items)
    if order.status != "created":  # planned: per line, which units run and which wait
        from engine.domains.provisioning.service import lines

        per_line = lines(s, order.tenant_id, order.id)
        empty = {"running": 0, "waiting": 0, "failed": 0, "terminated": 0, "units": []}
        for item, shown in zip(items, described["items"], strict=True):
            shown["provisioning"] = per_line.get(item.id, empty)
        described["provisioning"] = {k: sum(line[k] for line in per_line.values())
                                     for k in ("running", "waiting", "failed", "terminated")}
    return described


def _described(order: Order, items: list[OrderItem]) -> dict[str, Any]:
    return {"id": order.id, "number": order.number, "status": order.status, "application_id": order.application_id,
            "organization_id": order.organization_id, "business_system_id": order.business_system_id,
            "applicant": order.applicant, "created_at": order.created_at,
            "items": [{f: getattr(i, f) for f in ITEM_FIELDS} for i in items]}
