"""Rated resources: what ``billing/start`` opens and ``billing/stop`` closes.

A resource is rated on the plan chosen when it starts (``plans.resolve`` at that instant, or the
plan code given); the daily rating prices each day it runs. A stop rates the stop day at once (the
final prorated line) and corrects any later day already rated; a spec change is a stop and a start
at the same instant, so both days are prorated.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.domains.billing import money, plans, rating
from engine.domains.billing.models import BillLine, RatedResource
from engine.errors import Conflict, InvalidInput

_DIMS = ("organization_id", "business_system_id", "provider", "resource_type")


def running(s: Session, tenant_id: str, resource_ref: str, *, lock: bool = False) -> RatedResource | None:
    q = select(RatedResource).where(RatedResource.tenant_id == tenant_id, RatedResource.resource_ref == resource_ref,
                                    RatedResource.stopped_at.is_(None))
    return s.scalars(q.with_for_update() if lock else q).first()


def start(s: Session, tenant_id: str, *, resource_ref: str, started_at: datetime, quantity: Any = 1,
          spec_id: str | None = None, component: str | None = None, billing_mode: str | None = None,
          plan_code: str | None = None, **dims: Any) -> tuple[RatedResource, bool]:
    """Open a rated resource (or return the one already running with the same spec: a repeated
    start changes nothing); (row, created)."""
    amount = money.parse(quantity, places=6)
    if amount is None or amount == 0:
        raise plans.field_error("quantity", "a positive number with at most 6 decimals")
    if started_at.tzinfo is None:
        raise plans.field_error("started_at", "a time with a time zone")
    current = running(s, tenant_id, resource_ref, lock=True)
    if current is not None:
        if current.spec_id == spec_id and current.component == component and Decimal(current.quantity) == amount:
            return current, False
        raise Conflict(f"resource {resource_ref} is already rated on another spec: stop it first",
                       errors=[{"field": "resource_ref", "message": "already running"}])
    found = plans.resolve(s, tenant_id, start=started_at, end=started_at + timedelta(microseconds=1),
                          spec_id=spec_id, product_id=plans.product_of(s, spec_id), component=component,
                          billing_mode=billing_mode, plan_code=plan_code)
    if found is None:
        raise InvalidInput("no price plan prices this resource", errors=[
            {"field": "spec_id" if spec_id else "component", "message": "no valid price plan applies"}])
    plan, why = found
    if plan.unit == "use":
        raise plans.field_error("billing_mode", "a per-use plan prices usage events, not a running resource")
    row = RatedResource(tenant_id=tenant_id, resource_ref=resource_ref, plan_id=plan.id, spec_id=spec_id,
                        product_id=plans.product_of(s, spec_id), component=component, quantity=amount,
                        started_at=started_at, **{k: dims.get(k) for k in _DIMS})
    s.add(row)
    s.flush()
    audit.record(s, action="billing.resource.start", actor=None, tenant_id=tenant_id, target_type="rated_resource",
                 target_id=row.id, detail={"resource_ref": resource_ref, "plan": why, "started_at": started_at})
    return row, True


def stop(s: Session, tenant_id: str, *, resource_ref: str, stopped_at: datetime) -> dict[str, Any]:
    """Close the running resource at ``stopped_at`` and rate its final day now; None-safe repeat:
    a resource that is not running answers ``stopped: False``."""
    row = running(s, tenant_id, resource_ref, lock=True)
    if row is None:
        return {"stopped": False, "resource_ref": resource_ref}
    if stopped_at < row.started_at:
        raise plans.field_error("stopped_at", "before the resource started")
    row.stopped_at = stopped_at
    s.flush()
    key = f"res:{row.id}"
    stop_day = stopped_at.astimezone(UTC).date()
    later = set(s.scalars(select(BillLine.day).distinct().where(
        BillLine.tenant_id == tenant_id, BillLine.target_key == key, BillLine.day >= stop_day)))
    final = None
    for day in sorted(later | {stop_day}):
        rating.rate_day(s, tenant_id, day, only=key)
    line = s.scalars(select(BillLine).where(BillLine.tenant_id == tenant_id, BillLine.target_key == key,
                                            BillLine.day == stop_day, BillLine.kind == "rated")).first()
    if line is not None:
        final = {"day": line.day.isoformat(), "amount": str(line.amount)}
    audit.record(s, action="billing.resource.stop", actor=None, tenant_id=tenant_id, target_type="rated_resource",
                 target_id=row.id, detail={"resource_ref": resource_ref, "stopped_at": stopped_at, "final_line": final})
    return {"stopped": True, "resource_ref": resource_ref, "rated_resource_id": row.id, "final_line": final}


def describe(row: RatedResource) -> dict[str, Any]:
    return {"id": row.id, "resource_ref": row.resource_ref, "plan_id": row.plan_id, "spec_id": row.spec_id,
            "component": row.component, "quantity": str(row.quantity), "started_at": row.started_at,
            "stopped_at": row.stopped_at, **{k: getattr(row, k) for k in _DIMS}}
