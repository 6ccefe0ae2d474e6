"""Rating: a tenant's day of usage and running resources into bill lines (``rate_day``), and closing
the day (``close_day``).

Usage is aggregated in SQL, one grouped statement per meter kind (sum, max, count, latest, unique
count over hour or day windows, summed over the day); only the resulting groups, one per resource
(or model, business system, ...) per day, are priced in Python, with ``pricing``, the same code that
makes quotes. Rating always recomputes the day from every event it has, so rating twice, or after a
late batch, never counts anything twice: on an open day the line is brought to the new figure; on a
closed day the difference becomes an adjustment line with its reason (and an audit entry).

The day's ``billing_days`` row is locked first, so two raters of one tenant's day run one after the
other. Its ``usage_version`` is read before aggregating and stored as ``rated_version`` after: a batch
that commits meanwhile moved the version past it, so the day stays due and its events are rated on
the next run (the "usage burst while a day closes" case).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import distinct, func, insert, or_, select
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.domains.billing import ledger, plans, pricing
from engine.domains.billing.models import BillingDay, BillLine, Meter, PricePlan, RatedResource, UsageEvent
from engine.domains.billing.usage import insert_for, meter_for
from engine.models.base import new_id

KEYS = ("component", "model", "resource_id", "spec_id", "organization_id", "business_system_id", "provider",
        "resource_type")
DIMENSIONS = ("organization_id", "business_system_id", "provider", "resource_type")
_CHOICE = ("plan_code", "plan_version", "chosen", "candidates")


@dataclass
class Target:
    """What one rated line prices: its key, its dimensions and the priced figures."""

    key: str
    source: str
    dims: dict[str, Any]
    quantity: Decimal
    amount: Decimal
    plan: PricePlan | None
    explanation: dict[str, Any] = field(default_factory=dict)


def usage_key(group: dict[str, Any]) -> str:
    return "use:" + hashlib.sha256("\x1f".join(str(group.get(k) or "") for k in KEYS).encode()).hexdigest()


# -- aggregation (SQL) ------------------------------------------------------------------------------

def _aggregate(s: Session, tenant_id: str, day: date, components: list[str], aggregation: str,
               window: str) -> list[dict[str, Any]]:
    """One grouped statement: each group's quantity for ``day`` under one meter kind."""
    e = UsageEvent
    where = (e.tenant_id == tenant_id, e.occurred_day == day, e.component.in_(components))
    keys = [getattr(e, k) for k in KEYS]
    bucket = [e.occurred_hour] if window == "hour" else []
    if aggregation == "latest":
        ranked = select(*keys, e.quantity.label("q"), func.row_number().over(
            partition_by=[*keys, *bucket], order_by=(e.occurred_at.desc(), e.id.desc())).label("rn")).where(
            *where).subquery()
        inner = select(*[ranked.c[k] for k in KEYS], ranked.c.q).where(ranked.c.rn == 1).subquery()
    else:
        measure = {"sum": func.sum(e.quantity), "max": func.max(e.quantity), "count": func.count(),
                   "unique_count": func.count(distinct(e.value_key))}[aggregation]
        inner = select(*keys, measure.label("q")).where(*where).group_by(*keys, *bucket).subquery()
    outer = select(*[inner.c[k] for k in KEYS], func.sum(inner.c.q)).group_by(*[inner.c[k] for k in KEYS])
    return [{**dict(zip(KEYS, row[:-1], strict=True)), "quantity": Decimal(row[-1] or 0)} for row in s.execute(outer)]


def usage_groups(s: Session, tenant_id: str, day: date) -> list[dict[str, Any]]:
    """Every usage group of the tenant's day with its metered quantity (factor applied)."""
    components = list(s.scalars(select(UsageEvent.component).distinct().where(
        UsageEvent.tenant_id == tenant_id, UsageEvent.occurred_day == day)))
    if not components:
        return []
    meters = {m.component: m for m in s.scalars(select(Meter))}
    kinds: dict[tuple[str, str, Decimal], list[str]] = {}
    for component in components:
        kinds.setdefault(meter_for(meters, component), []).append(component)
    out = []
    for (aggregation, window, factor), names in kinds.items():
        for group in _aggregate(s, tenant_id, day, names, aggregation, window):
            group["quantity"] *= factor
            group["meter"] = {"aggregation": aggregation, "window": window, "factor": str(factor)}
            out.append(group)
    return out


# -- pricing the day's targets ---------------------------------------------------------------------

class _Prices:
    """Plans and discounts looked up once per rating run."""

    def __init__(self, s: Session, tenant_id: str, day: date) -> None:
        self.s, self.tenant_id, self.day = s, tenant_id, day
        self.start, self.end = pricing.day_bounds(day)
        self._discounts: dict[str, Any] = {}
        self._plans: dict[str, PricePlan | None] = {}
        self._products: dict[str, str | None] = {}
        self._resolved: dict[tuple[str | None, str], Any] = {}

    def plan(self, plan_id: str) -> PricePlan | None:
        if plan_id not in self._plans:
            self._plans[plan_id] = self.s.get(PricePlan, plan_id)
        return self._plans[plan_id]

    def product_of(self, spec_id: str | None) -> str | None:
        if not spec_id:
            return None
        if spec_id not in self._products:
            from engine.domains.catalog.models import ProductSpec

            self._products[spec_id] = self.s.scalar(select(ProductSpec.product_id).where(ProductSpec.id == spec_id))
        return self._products[spec_id]

    def resolve(self, spec_id: str | None, component: str) -> tuple[PricePlan, dict[str, Any]] | None:
        key = (spec_id, component)
        if key not in self._resolved:
            self._resolved[key] = plans.resolve(self.s, self.tenant_id, start=self.start, end=self.end,
                                                spec_id=spec_id, product_id=self.product_of(spec_id),
                                                component=component)
        return self._resolved[key]

    def discount(self, code: str) -> Any:
        if code not in self._discounts:
            self._discounts[code] = plans.discount_for(self.s, self.tenant_id, code, self.start, self.end)
        return self._discounts[code]


def _usage_target(prices: _Prices, group: dict[str, Any], kept: BillLine | None) -> Target:
    key = usage_key(group)
    component = f"{group['component']}:{group['model']}" if group.get("model") else group["component"]
    dims = {k: group.get(k) for k in KEYS}
    plan, why = None, {"meter": group["meter"]}
    if kept is not None and kept.plan_id:  # a later version never reprices a line: keep its plan and why
        plan = prices.plan(kept.plan_id)
        why.update({k: v for k, v in (kept.explanation or {}).items() if k in _CHOICE})
    if plan is None:
        found = prices.resolve(group.get("spec_id"), component)
        if found is not None:
            plan, chosen = found
            why.update(chosen)
    if plan is None:
        why["unpriced"] = f"no price plan applies to {component}"
        return Target(key, "usage", dims, group["quantity"], Decimal(0), None, why)
    line = pricing.usage_day(plan, group["quantity"], prices.day, prices.discount(plan.code))
    return Target(key, "usage", dims, line.quantity, line.amount, plan, {**why, **line.explanation})


def _resource_target(prices: _Prices, rr: RatedResource) -> Target | None:
    plan = prices.plan(rr.plan_id)
    line = pricing.resource_day(plan, Decimal(rr.quantity), prices.day, rr.started_at, rr.stopped_at,
                                prices.discount(plan.code))
    if line is None:
        return None
    dims = {"component": rr.component, "model": None, "resource_id": rr.resource_ref, "spec_id": rr.spec_id,
            **{k: getattr(rr, k) for k in DIMENSIONS}}
    why = {"plan_code": plan.code, "plan_version": plan.version, **line.explanation}
    return Target(f"res:{rr.id}", "resource", dims, line.quantity, line.amount, plan, why)


def _running(s: Session, tenant_id: str, day: date) -> list[RatedResource]:
    start, end = pricing.day_bounds(day)
    return list(s.scalars(select(RatedResource).where(
        RatedResource.tenant_id == tenant_id, RatedResource.started_at < end,
        or_(RatedResource.stopped_at.is_(None), RatedResource.stopped_at > start))))


# -- rating and closing ------------------------------------------------------------------------------

def lock_day(s: Session, tenant_id: str, day: date) -> BillingDay:
    s.execute(insert_for(s)(BillingDay).values(tenant_id=tenant_id, day=day, usage_version=0, rated_version=0)
              .on_conflict_do_nothing(index_elements=["tenant_id", "day"]))
    return s.scalars(select(BillingDay).where(BillingDay.tenant_id == tenant_id, BillingDay.day == day)
                     .with_for_update().execution_options(populate_existing=True)).one()


def rate_day(s: Session, tenant_id: str, day: date, *, only: str | None = None) -> dict[str, Any]:
    """Bring the tenant's lines of ``day`` to what its usage and resources cost; ``only`` limits
    it to one target key (a resource stopping). Returns what changed."""
    state = lock_day(s, tenant_id, day)
    seen = state.usage_version
    prices = _Prices(s, tenant_id, day)
    existing: dict[str, list[BillLine]] = {}
    for line in s.scalars(select(BillLine).where(BillLine.tenant_id == tenant_id, BillLine.day == day)):
        existing.setdefault(line.target_key, []).append(line)
    targets: dict[str, Target] = {}
    if only is None or only.startswith("use:"):
        for group in usage_groups(s, tenant_id, day):
            key = usage_key(group)
            kept = next((ln for ln in existing.get(key, []) if ln.kind == "rated"), None)
            targets[key] = _usage_target(prices, group, kept)
    for rr in _running(s, tenant_id, day):
        target = _resource_target(prices, rr) if only is None or only == f"res:{rr.id}" else None
        if target is not None:
            targets[target.key] = target
    keys = set(targets) | {k for k in existing if k.startswith(("use:", "res:"))}
    if only is not None:
        keys = {only}
    closed = state.closed_at is not None
    bill = ledger.bill(s, tenant_id, ledger.period_of(day))
    writing = _Writes(bill if not closed and bill.status == "open" else None)
    for key in sorted(keys):
        _apply(s, tenant_id, day, key, targets.get(key), existing.get(key, []), writing)
    if writing.new:  # one multi-row INSERT for the day's new lines
        s.execute(insert(BillLine), writing.new)
    s.flush()
    counts, touched = writing.counts, writing.touched
    if only is None:
        state.rated_version = seen
    ledger.refresh_totals(s, touched)
    return {"day": day.isoformat(), "closed": closed, "lines": len(targets), **counts}


def _values(target: Target) -> dict[str, Any]:
    plan = target.plan
    return {"source": target.source, "quantity": target.quantity, "amount": target.amount,
            "plan_id": plan.id if plan else None, "plan_code": plan.code if plan else None,
            "plan_version": plan.version if plan else None, "billing_mode": plan.billing_mode if plan else None,
            "unit": plan.unit if plan else None, "explanation": target.explanation,
            "rated_resource_id": target.key[4:] if target.key.startswith("res:") else None, **target.dims}


@dataclass
class _Writes:
    """What one rating run writes: new lines (inserted together), counts, bills whose total moved.
    ``bill``: the open bill of the day, None when the day (or its bill) is closed."""

    bill: Any
    new: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"inserted": 0, "updated": 0, "removed": 0,
                                                            "adjusted": 0})
    touched: set[str] = field(default_factory=set)


def _apply(s: Session, tenant_id: str, day: date, key: str, target: Target | None, lines: list[BillLine],
           writing: _Writes) -> None:
    rated = next((ln for ln in lines if ln.kind == "rated"), None)
    counts, touched = writing.counts, writing.touched
    if writing.bill is not None:
        if target is None:
            if rated is not None:
                s.delete(rated)
                counts["removed"] += 1
                touched.add(rated.bill_id)
            return
        values = _values(target)
        now = clock.now()
        if rated is None:
            writing.new.append({"id": new_id(), "bill_id": writing.bill.id, "tenant_id": tenant_id, "day": day,
                                "kind": "rated", "line_key": key, "target_key": key, "reason": None,
                                "created_at": now, "updated_at": now, **values})
            counts["inserted"] += 1
        elif (rated.amount, rated.quantity, rated.explanation) != (values["amount"], values["quantity"],
                                                                   values["explanation"]):
            for name, value in values.items():
                setattr(rated, name, value)
            rated.updated_at = now
            counts["updated"] += 1
        else:
            return
        touched.add(writing.bill.id)
        return
    # a closed day (or a day of a closed bill): the difference becomes an adjustment
    amount_before = sum((Decimal(ln.amount) for ln in lines), Decimal(0))
    quantity_before = sum((Decimal(ln.quantity) for ln in lines), Decimal(0))
    amount_now = target.amount if target else Decimal(0)
    quantity_now = target.quantity if target else Decimal(0)
    if amount_now == amount_before and quantity_now == quantity_before:
        return
    template = target or _target_of(s, rated or lines[0])
    values = {**_values(template), "quantity": quantity_now - quantity_before, "amount": amount_now - amount_before}
    reason = (f"usage received after {day.isoformat()} was closed" if template.source == "usage"
              else f"resource changed after {day.isoformat()} was closed")
    values["explanation"] = {**values["explanation"], "corrects": key, "before": str(amount_before),
                             "after": str(amount_now)}
    bill = ledger.bill_for_change(s, tenant_id, day)
    line = BillLine(bill_id=bill.id, tenant_id=tenant_id, day=day, kind="adjustment", line_key=f"adj:{uuid.uuid4()}",
                    target_key=key, reason=reason, **values)
    s.add(line)
    s.flush()
    audit.record(s, action="billing.line.adjust", actor=None, tenant_id=tenant_id, target_type="bill_line",
                 target_id=line.id, detail={"day": day.isoformat(), "corrects": key, "amount": str(line.amount),
                                            "reason": reason, "bill_id": bill.id})
    counts["adjusted"] += 1
    touched.add(bill.id)


def _target_of(s: Session, line: BillLine) -> Target:
    """A target that no longer exists, described as its last line was."""
    plan = s.get(PricePlan, line.plan_id) if line.plan_id else None
    return Target(line.target_key, line.source, {k: getattr(line, k) for k in KEYS}, Decimal(0), Decimal(0), plan,
                  dict(line.explanation or {}))


def close_day(s: Session, tenant_id: str, day: date) -> dict[str, Any]:
    """Rate ``day`` a last time and make its lines final; closing a month's last day closes the
    month's bill too (after rating and closing every open day of that month)."""
    result = rate_day(s, tenant_id, day)
    state = lock_day(s, tenant_id, day)
    if state.closed_at is None:
        state.closed_at = clock.now()
    result["closed"] = True
    following = day + timedelta(days=1)
    if following.month != day.month:
        result["bill"] = close_month(s, tenant_id, day)
    return result


def close_month(s: Session, tenant_id: str, day: date) -> dict[str, Any]:
    """Rate and close every day of ``day``'s month up to ``day`` not closed yet (a day with only a
    running resource has no row until it is rated), then close the month's bill."""
    first = day.replace(day=1)
    closed = set(s.scalars(select(BillingDay.day).where(
        BillingDay.tenant_id == tenant_id, BillingDay.day >= first, BillingDay.day <= day,
        BillingDay.closed_at.is_not(None))))
    open_day = first
    while open_day <= day:
        if open_day not in closed:
            rate_day(s, tenant_id, open_day)
            lock_day(s, tenant_id, open_day).closed_at = clock.now()
        open_day += timedelta(days=1)
    bill = ledger.bill(s, tenant_id, ledger.period_of(day), lock=True)
    ledger.refresh_totals(s, {bill.id})
    s.refresh(bill)
    if bill.status == "open":
        bill.status, bill.closed_at = "closed", clock.now()
        audit.record(s, action="billing.bill.close", actor=None, tenant_id=tenant_id, target_type="bill",
                     target_id=bill.id, detail={"period": bill.period, "total": str(bill.total)})
    return {"id": bill.id, "period": bill.period, "status": bill.status, "total": str(bill.total)}


def due_days(s: Session, tenant_id: str, before: date) -> list[date]:
    """Days before ``before`` with usage not rated yet, or not yet closed."""
    return list(s.scalars(select(BillingDay.day).where(
        BillingDay.tenant_id == tenant_id, BillingDay.day < before,
        or_(BillingDay.usage_version != BillingDay.rated_version, BillingDay.closed_at.is_(None)))
        .order_by(BillingDay.day)))
