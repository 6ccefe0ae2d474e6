"""Quotes: what a list of (spec or component, quantity, start, end) will cost, priced day by day by
the code that bills it (``pricing``), so the quote is the bill for the same inputs.

A spec or a component priced per hour, day, month or year is quoted as a resource running from
``start`` to ``end`` (as ``billing/start`` and ``billing/stop`` would rate it); a per-use component
is quoted as ``quantity`` used on each day of the period. ``compare`` adds, for a monthly or yearly
plan, the total under every day rule it may choose, and for a tiered plan graduated beside volume.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.domains.billing import dayrules, money, plans, pricing
from engine.domains.billing.models import PricePlan
from engine.errors import NotFound

MAX_ITEMS = 100
MAX_DAYS = 366


def _instant(value: Any, field: str) -> datetime:
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise plans.field_error(field, "an ISO 8601 date-time with a time zone") from None
    if at.tzinfo is None:
        raise plans.field_error(field, "an ISO 8601 date-time with a time zone")
    return at


class _Reads:
    """What one quote reads, each read once: its items often share a spec, so a product, a plan and
    the discounts of a plan over a period (and the day-rule comparisons of one item) are read once."""

    def __init__(self, s: Session, tenant_id: str) -> None:
        self.s, self.tenant_id = s, tenant_id
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _once(self, key: tuple[Any, ...], read: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = read()
        return self._memo[key]

    def plan(self, start: datetime, spec_id: str | None, component: str | None, billing_mode: Any,
             plan_code: Any) -> tuple[PricePlan, dict[str, Any]] | None:
        def read() -> Any:
            return plans.resolve(self.s, self.tenant_id, start=start, end=start + timedelta(microseconds=1),
                                 spec_id=spec_id, product_id=self._once(("product", spec_id),
                                                                        lambda: plans.product_of(self.s, spec_id)),
                                 component=component, billing_mode=billing_mode, plan_code=plan_code)
        return self._once(("plan", start, spec_id, component, billing_mode, plan_code), read)

    def discounts(self, plan_code: str, lo: datetime, hi: datetime) -> list[Any]:
        return self._once(("discounts", plan_code, lo, hi),
                          lambda: plans.discounts_for(self.s, self.tenant_id, plan_code, lo, hi))


def _lines(reads: _Reads, plan: PricePlan, quantity: Decimal, start: datetime, end: datetime, *,
           rule: str | None = None, tier_mode: str | None = None) -> list[pricing.Line]:
    out = []
    span = pricing.days(start, end)
    lo, _hi = pricing.day_bounds(span[0])
    _lo, hi = pricing.day_bounds(span[-1])
    # the discounts of the whole period in one read; each day takes the one rating would (plans.pick_discount)
    found = reads.discounts(plan.code, lo, hi)
    for day in span:
        lo, hi = pricing.day_bounds(day)
        discount = plans.pick_discount(found, lo, hi)
        if plan.unit == "use":
            out.append(pricing.usage_day(plan, quantity, day, discount, rule=rule, tier_mode=tier_mode))
        else:
            line = pricing.resource_day(plan, quantity, day, start, end, discount, rule=rule, tier_mode=tier_mode)
            if line is not None:
                out.append(line)
    return out


def _total(lines: list[pricing.Line]) -> Decimal:
    return sum((ln.amount for ln in lines), Decimal(0))


def quote_item(reads: _Reads, raw: dict[str, Any], field: str, *, compare: bool) -> dict[str, Any]:
    spec_id, component = raw.get("spec_id"), raw.get("component")
    if bool(spec_id) == bool(component):
        raise plans.field_error(f"{field}.spec_id", "give a spec_id or a component")
    if component and (problem := plans.component_problem(component)):
        raise plans.field_error(f"{field}.component", problem)
    quantity = money.parse(raw.get("quantity", 1), places=6)
    if quantity is None or quantity == 0:
        raise plans.field_error(f"{field}.quantity", "a positive number with at most 6 decimals")
    start, end = _instant(raw.get("start"), f"{field}.start"), _instant(raw.get("end"), f"{field}.end")
    if end <= start or end - start > timedelta(days=MAX_DAYS):
        raise plans.field_error(f"{field}.end", f"after start, at most {MAX_DAYS} days later")
    found = reads.plan(start, spec_id, component, raw.get("billing_mode"), raw.get("plan_code"))
    if found is None:
        raise plans.field_error(f"{field}.{'spec_id' if spec_id else 'component'}", "no valid price plan applies")
    plan, why = found
    lines = _lines(reads, plan, quantity, start, end)
    out: dict[str, Any] = {
        "spec_id": spec_id, "component": component, "quantity": str(quantity), "start": start, "end": end,
        "plan": {**why, "plan_id": plan.id, "billing_mode": plan.billing_mode, "unit": plan.unit,
                 "day_rule": plan.day_rule, "tier_mode": plan.tier_mode},
        "lines": [{"day": ln.day.isoformat(), "quantity": str(ln.quantity), "amount": str(ln.amount),
                   "explanation": ln.explanation} for ln in lines],
        "total": str(_total(lines))}
    if compare:
        out["comparison"] = _compare(reads, plan, quantity, start, end)
    return out


def _compare(reads: _Reads, plan: PricePlan, quantity: Decimal, start: datetime, end: datetime) -> dict[str, Any]:
    found: dict[str, Any] = {}
    rules = [r for r in dayrules.rules_for(plan.unit) if r != "fixed_day" or plan.day_price is not None]
    if rules:
        found["day_rules"] = {r: str(_total(_lines(reads, plan, quantity, start, end, rule=r))) for r in rules}
    if plan.tier_mode != "flat":
        found["tier_modes"] = {m: str(_total(_lines(reads, plan, quantity, start, end, tier_mode=m)))
                               for m in ("graduated", "volume")}
    return found


def application_items(s: Session, tenant_id: str, application_id: str, start: Any, end: Any) -> list[dict[str, Any]]:
    """An application's lines as quote items over [start, end) (404 for another tenant's)."""
    from engine.domains.applications.models import Application, ApplicationItem

    app = s.scalars(select(Application).where(Application.id == application_id,
                                              Application.tenant_id == tenant_id)).first()
    if app is None:
        raise NotFound(f"application {application_id} not found")
    rows = s.scalars(select(ApplicationItem).where(ApplicationItem.application_id == app.id)
                     .order_by(ApplicationItem.position)).all()
    return [{"spec_id": r.spec_id, "quantity": r.quantity, "start": start, "end": end} for r in rows]


def quote(s: Session, tenant_id: str, items: list[dict[str, Any]], *, compare: bool = False) -> dict[str, Any]:
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise plans.field_error("items", f"1 to {MAX_ITEMS} items")
    reads = _Reads(s, tenant_id)
    quoted = [quote_item(reads, raw if isinstance(raw, dict) else {}, f"items[{i}]", compare=compare)
              for i, raw in enumerate(items)]
    return {"currency": money.CURRENCY, "items": quoted,
            "total": str(sum((Decimal(q["total"]) for q in quoted), Decimal(0)))}


ESTIMATE_DAYS = 30


def application_quote(s: Session, app: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The applications detail hook: the application's items priced for the next ``ESTIMATE_DAYS``
    days from now, as the quote endpoint prices them; None when a spec has no valid plan."""
    from engine import clock
    from engine.errors import InvalidInput

    if not items:
        return {"quote": None}
    start = clock.now().replace(microsecond=0)
    end = start + timedelta(days=ESTIMATE_DAYS)
    wanted = [{"spec_id": i["spec_id"], "quantity": i["quantity"], "start": start, "end": end} for i in items]
    try:
        return {"quote": quote(s, app.tenant_id, wanted)}
    except InvalidInput:
        return {"quote": None}
