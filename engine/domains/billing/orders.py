"""Which plan priced each line of an order, recorded when the order is placed.

The order process (``bpmn/order.bpmn``) calls ``billing/price_order`` right after the order is
created: each line gets the plan that would price it now (``plans.resolve_specs``: the same choice
quotes and rating make) and the reason, kept in ``order_line_prices``. A later plan version never
changes what an order recorded; a line no plan priced says so. Reading orders' tables is a read of
another domain's rows by id, inside the tenant: billing never writes them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.domains.billing import plans
from engine.domains.billing.models import OrderLinePrice
from engine.domains.catalog.models import ProductSpec
from engine.domains.orders import service as orders
from engine.domains.orders.models import Order, OrderItem
from engine.errors import NotFound

NO_PLAN = {"chosen": "no valid price plan applied when the order was placed"}


def price_order(s: Session, tenant_id: str, application_id: str) -> dict[str, Any]:
    """Record the plan of every line of the order of the tenant's application ``application_id``
    that has none yet (a repeat records nothing new); returns {order_id, lines: [{order_item_id,
    plan_code, plan_version, chosen}]}."""
    known = orders.held_for_application(s, application_id, tenant_id)  # created by the same step
    if known is not None and known.items is not None:
        items, order_id = known.items, known.order.id
    else:
        rows = s.execute(select(OrderItem, Order.id).join(Order, Order.id == OrderItem.order_id)
                         .where(Order.application_id == application_id, Order.tenant_id == tenant_id)
                         .order_by(OrderItem.position)).all()
        if not rows:
            raise NotFound(f"application {application_id} has no order")
        items, order_id = [item for item, _o in rows], rows[0][1]
    recorded: dict[str, OrderLinePrice] = {}
    if known is None or not known.unpriced:
        recorded = {r.order_item_id: r
                    for r in s.scalars(select(OrderLinePrice).where(OrderLinePrice.order_id == order_id))}
    if known is not None:
        known.unpriced = False  # before writing: a call that fails after this only reads again
    todo = [i for i in items if i.id not in recorded]
    if todo:
        unknown = {i.spec_id for i in todo if i.product_id is None}  # lines keep their product
        products = dict(s.execute(select(ProductSpec.id, ProductSpec.product_id)
                                  .where(ProductSpec.id.in_(unknown))).all()) if unknown else {}
        products.update((i.spec_id, i.product_id) for i in todo if i.product_id is not None)
        now = clock.now()
        chosen = plans.resolve_specs(s, tenant_id, {i.spec_id: products.get(i.spec_id) for i in todo},
                                     start=now, end=now + timedelta(seconds=1))
        for item in todo:
            found = chosen.get(item.spec_id)
            plan, why = found if found is not None else (None, NO_PLAN)
            row = OrderLinePrice(order_item_id=item.id, order_id=order_id, tenant_id=tenant_id,
                                 plan_id=plan.id if plan else None, plan_code=plan.code if plan else None,
                                 plan_version=plan.version if plan else None, chosen=why, priced_at=now)
            s.add(row)
            recorded[item.id] = row
    return {"order_id": order_id, "lines": [_view(recorded[i.id]) for i in items]}


def _view(row: OrderLinePrice) -> dict[str, Any]:
    return {"order_item_id": row.order_item_id, "plan_code": row.plan_code, "plan_version": row.plan_version,
            "chosen": row.chosen}


def order_pricing(s: Session, app: Any, _items: list[dict[str, Any]]) -> dict[str, Any]:
    """The applications detail hook: which plan priced each line of the application's order."""
    rows = s.scalars(select(OrderLinePrice).join(Order, Order.id == OrderLinePrice.order_id)
                     .where(Order.application_id == app.id, Order.tenant_id == app.tenant_id))
    return {"order_pricing": [_view(r) for r in rows]}
