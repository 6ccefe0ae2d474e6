"""Orders: one per approved application, with the approved items (fulfilment comes later).

Created by the ``orders/create`` operator through the orders port, in the transaction of the
process step that reached it; a repeat for the same application returns the existing order.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from connectors import vector
from engine import audit, clock
from engine.domains.orders.models import Order, OrderItem
from engine.models.base import new_id
from engine.ports import LOCKED_ROWS

if TYPE_CHECKING:
    from engine.domains.applications.models import Application

ITEM_FIELDS = ("product_id", "spec_id", "product_name", "spec_name", "quantity", "term_months",
               *vector.LINE_FIELDS)


def new_number(prefix: str) -> str:
    """``PREFIX20261207-3F9A1C2B5D6E``: the day it was made and 48 random bits. Not probed: a new
    number meets one of the n others of its tenant's day with odds n/2⁴⁸ (1 in 28 billion at
    10,000 a day), and the unique constraint on (tenant, number) refuses that twin, as it refuses
    the twin a probe lets through to two concurrent writers: the step fails and can be repeated."""
    return f"{prefix}{clock.now():%Y%m%d}-{secrets.token_hex(6).upper()}"


@dataclass
class Held:
    """An order this transaction created or locked, with its items once known. Later port calls of
    the transaction find it in the shared port session (``LOCKED_ROWS``) instead of reading it again:
    no other writer can change it meanwhile, and the step's own changes go through that session.
    A failed port call forgets what it held (``engine.ports``)."""

    order: Order
    items: list[OrderItem] | None = None  # in line order
    unpriced: bool = False  # created in this transaction and no line price recorded since


def hold(s: Session, order: Order, items: list[OrderItem] | None = None, *, unpriced: bool = False) -> Held:
    held_order = Held(order, items, unpriced)
    s.info.setdefault(LOCKED_ROWS, {})[("order", order.id)] = held_order
    return held_order


def held(s: Session, order_id: str, tenant_id: str) -> Held | None:
    found = s.info.get(LOCKED_ROWS, {}).get(("order", order_id))
    return found if isinstance(found, Held) and found.order.tenant_id == tenant_id else None


def held_for_application(s: Session, application_id: str, tenant_id: str) -> Held | None:
    return next((h for h in s.info.get(LOCKED_ROWS, {}).values()
                 if isinstance(h, Held) and h.order.application_id == application_id
                 and h.order.tenant_id == tenant_id), None)


def for_application(s: Session, application_id: str) -> Order | None:
    return s.scalars(select(Order).where(Order.application_id == application_id)).first()


def create_order(s: Session, application: Application, lines: list[dict[str, Any]]) -> Order:
    """A new order for ``application`` (which has none) with ``lines``; written when the session
    flushes (ids are assigned here, so nothing needs flushing before), and held for the rest of the
    transaction (``hold``)."""
    order = Order(id=new_id(), tenant_id=application.tenant_id,
                  number=new_number("OR"), application_id=application.id,
                  organization_id=application.organization_id, business_system_id=application.business_system_id,
                  applicant=application.applicant, status="created")
    items = [OrderItem(id=new_id(), order_id=order.id, tenant_id=order.tenant_id, position=i,
                       **{f: line[f] for f in ITEM_FIELDS}) for i, line in enumerate(lines)]
    s.add(order)
    s.add_all(items)
    hold(s, order, items, unpriced=True)
    audit.record(s, action="order.create", actor=None, tenant_id=order.tenant_id, target_type="order",
                 target_id=order.id, detail={"number": order.number, "application": application.number,
                                             "lines": len(lines)})
    return order


def describe_for_application(s: Session, application_id: str) -> dict[str, Any] | None:
    """The application's order with its items (None without one) and, once planned, what runs and
    waits per line: one statement, the order joined with its items and their units."""
    from engine.domains.provisioning.models import ProvisioningUnit
    from engine.domains.provisioning.service import lines

    unit = ProvisioningUnit
    rows = s.execute(select(Order, OrderItem, unit).outerjoin(OrderItem, OrderItem.order_id == Order.id)
                     .outerjoin(unit, and_(unit.order_item_id == OrderItem.id, unit.order_id == Order.id))
                     .where(Order.application_id == application_id)
                     .order_by(OrderItem.position, unit.copy_no)).all()
    if not rows:
        return None
    order = rows[0][0]
    items = list({item.id: item for _o, item, _u in rows if item is not None}.values())
    described = _described(order, items)
    if order.status != "created":  # planned: per line, which units run and which wait
        per_line = lines([u for _o, _i, u in rows if u is not None])
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
