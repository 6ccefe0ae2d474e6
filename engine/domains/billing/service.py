"""The billing domain's public face: what the API, the queue consumer and other domains call.

Every function takes the engine and a ``Principal`` (or, for the queue, no caller: its events name
their tenant). Tenants read their own plans (list prices and their own), quotes, bills and lines;
platform staff manage plans, discounts, meters, adjustments and closing, and read every tenant.

For other domains (vouchers, provisioning):

- ``money.round_line`` is the one rounding rule (0.01 CNY, half-up, once per line);
- ``bill_lines(s, tenant_id, bill_id)`` reads a bill's lines inside the caller's transaction;
- ``ledger.bill`` / ``ledger.refresh_totals`` find a month's bill and keep its total the sum of its lines;
- ``resources.start`` / ``resources.stop`` open and close a rated resource (the ``billing/start``
  and ``billing/stop`` operators reach them through the ``billing`` port).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.domains.billing import bills, plans, quotes, usage
from engine.domains.billing.models import BillLine, Meter, PriceDiscount, PricePlan
from engine.errors import NotFound
from engine.principal import Principal
from engine.tenancy.access import PermissionDenied

if TYPE_CHECKING:
    from engine.core import Engine

log = logging.getLogger(__name__)


def _staff(principal: Principal) -> None:
    if not principal.is_platform:
        raise PermissionDenied("prices, meters and bill corrections are managed by platform staff")


def _tenant_for(principal: Principal, tenant_id: str | None) -> str:
    """The tenant a tenant user acts for (their own); staff must name one."""
    if principal.tenant_id is not None:
        return principal.tenant_id
    if not tenant_id:
        raise plans.field_error("tenant_id", "platform staff name the tenant")
    return tenant_id


# -- plans and discounts --------------------------------------------------------------------------

def list_plans(engine: Engine, principal: Principal, *, offset: int = 0, limit: int = 20,
               **filters: Any) -> tuple[list[dict[str, Any]], int]:
    """Plans the caller may see: list prices and the tenant's own (staff: all), newest version first."""
    where = []
    if principal.tenant_id is not None:
        where.append(or_(PricePlan.tenant_id.is_(None), PricePlan.tenant_id == principal.tenant_id))
    for name in ("code", "target_kind", "target", "billing_mode", "status", "tenant_id"):
        if filters.get(name) is not None:
            where.append(getattr(PricePlan, name) == filters[name])
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(PricePlan).where(*where)) or 0
        rows = s.scalars(select(PricePlan).where(*where).order_by(PricePlan.code, PricePlan.version.desc())
                         .offset(offset).limit(limit)).all()
        return [plans.describe(p) for p in rows], int(total)


def get_plan(engine: Engine, principal: Principal, plan_id: str) -> dict[str, Any]:
    with engine.db.read() as s:
        plan = s.get(PricePlan, plan_id)
        if plan is None or (principal.tenant_id is not None and plan.tenant_id not in (None, principal.tenant_id)):
            raise NotFound(f"price plan {plan_id} not found")
        return plans.describe(plan)


def create_plan(engine: Engine, principal: Principal, body: dict[str, Any], *, ip: str | None = None
                ) -> dict[str, Any]:
    _staff(principal)
    with engine.db.write() as s:
        _known_tenant(s, body.get("tenant_id"))
        return plans.describe(plans.create(s, body, actor=principal.username, ip=ip))


def new_plan_version(engine: Engine, principal: Principal, plan_id: str, body: dict[str, Any], *,
                     ip: str | None = None) -> dict[str, Any]:
    _staff(principal)
    with engine.db.write() as s:
        return plans.describe(plans.new_version(s, plan_id, body, actor=principal.username, ip=ip))


def _known_tenant(s: Session, tenant_id: Any) -> None:
    from engine.models import Tenant

    if tenant_id is not None and (not isinstance(tenant_id, str) or s.get(Tenant, tenant_id) is None):
        raise plans.field_error("tenant_id", "no such tenant")


def list_discounts(engine: Engine, principal: Principal) -> list[dict[str, Any]]:
    with engine.db.read() as s:
        q = select(PriceDiscount).order_by(PriceDiscount.tenant_id, PriceDiscount.valid_from)
        if principal.tenant_id is not None:
            q = q.where(PriceDiscount.tenant_id == principal.tenant_id)
        return [plans.describe_discount(d) for d in s.scalars(q)]


def create_discount(engine: Engine, principal: Principal, body: dict[str, Any], *, ip: str | None = None
                    ) -> dict[str, Any]:
    _staff(principal)
    with engine.db.write() as s:
        _known_tenant(s, body.get("tenant_id"))
        return plans.describe_discount(plans.create_discount(s, body, actor=principal.username, ip=ip))


# -- quotes ---------------------------------------------------------------------------------------

def quote(engine: Engine, principal: Principal, *, items: list[dict[str, Any]] | None = None,
          application_id: str | None = None, start: Any = None, end: Any = None, compare_day_rules: bool = False,
          tenant_id: str | None = None) -> dict[str, Any]:
    """Price items (or an application's lines over [start, end)) as they will be billed."""
    tenant = _tenant_for(principal, tenant_id)
    with engine.db.read() as s:
        if application_id:
            items = quotes.application_items(s, tenant, application_id, start, end)
        return quotes.quote(s, tenant, items or [], compare=compare_day_rules)


# -- usage and meters -----------------------------------------------------------------------------

def ingest_usage(engine: Engine, principal: Principal | None, events: Any) -> dict[str, Any]:
    """Store a batch (``principal`` None: the queue). Then makes sure the daily rating runs for
    the tenants it named."""
    if not isinstance(events, list) or not 1 <= len(events) <= usage.MAX_BATCH:
        raise plans.field_error("events", f"a list of 1 to {usage.MAX_BATCH} events")
    with engine.db.write() as s:
        result = usage.ingest(s, events, tenant_id=principal.tenant_id if principal else None)
    if result["accepted"]:
        from engine.domains.billing import flow

        owners = {principal.tenant_id} if principal and principal.tenant_id else {
            e.get("tenantid") for e in events if isinstance(e, dict) and isinstance(e.get("tenantid"), str)}
        try:
            flow.ensure_daily(engine, owners)
        except Exception:  # the events are stored; the next batch tries the start again
            log.exception("could not start the daily rating for %s", sorted(owners))
    return result


def list_meters(engine: Engine) -> list[dict[str, Any]]:
    with engine.db.read() as s:
        rows = {m.component: m for m in s.scalars(select(Meter))}
    names = sorted(set(plans.COMPONENTS) | set(rows))
    return [usage.describe_meter(c, usage.meter_for(rows, c)) for c in names]


def set_meter(engine: Engine, principal: Principal, component: str, body: dict[str, Any]) -> dict[str, Any]:
    _staff(principal)
    with engine.db.write() as s:
        row = usage.set_meter(s, component, body)
        return usage.describe_meter(row.component, (row.aggregation, row.window, row.factor))


# -- bills ----------------------------------------------------------------------------------------

def list_bills(engine: Engine, principal: Principal, **kw: Any) -> tuple[list[dict[str, Any]], int]:
    with engine.db.read() as s:
        return bills.list_bills(s, principal.tenant_id, **kw)


def get_bill(engine: Engine, principal: Principal, bill_id: str) -> dict[str, Any]:
    with engine.db.read() as s:
        return bills.describe_bill(bills.get_bill(s, principal.tenant_id, bill_id))


def list_lines(engine: Engine, principal: Principal, **kw: Any) -> tuple[list[dict[str, Any]], int]:
    with engine.db.read() as s:
        if kw.get("bill_id"):
            bills.get_bill(s, principal.tenant_id, kw["bill_id"])
        return bills.list_lines(s, principal.tenant_id, **kw)


def lines_csv(engine: Engine, principal: Principal, **filters: Any) -> str:
    with engine.db.read() as s:
        return bills.lines_csv(s, principal.tenant_id, **filters)


def analysis(engine: Engine, principal: Principal, **filters: Any) -> dict[str, Any]:
    with engine.db.read() as s:
        return bills.analysis(s, principal.tenant_id, **filters)


def adjust(engine: Engine, principal: Principal, bill_id: str, body: dict[str, Any], *, ip: str | None = None
           ) -> dict[str, Any]:
    _staff(principal)
    with engine.db.write() as s:
        return bills.adjust(s, bill_id, amount=body.get("amount"), reason=body.get("reason"),
                            actor=principal.username, ip=ip)


def close_bill(engine: Engine, principal: Principal, bill_id: str) -> dict[str, Any]:
    _staff(principal)
    with engine.db.write() as s:
        return bills.close(s, bill_id)


def bill_lines(s: Session, tenant_id: str, bill_id: str) -> list[BillLine]:
    """A bill's lines for another domain, in the caller's transaction (empty for another tenant's)."""
    return list(s.scalars(select(BillLine).where(BillLine.bill_id == bill_id, BillLine.tenant_id == tenant_id)
                          .order_by(BillLine.day, BillLine.line_key)))
