"""One priced line: what a resource costs on one day, or what one day's usage costs.

Rating (``rating``) and quotes (``quotes``) both call these functions, so a quote made from the same
inputs as a bill gives the same lines to the cent. The arithmetic, in order: the tier rule (or
quantity × unit price) gives the price of the whole quantity per plan unit; the day rule turns a
monthly or yearly price into a day price; the running time of the day (whole days, or hours
started, as the plan prorates) takes its share; the discount applies; the line is rounded once
(``money.round_line``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from engine.domains.billing import dayrules, money, tiers
from engine.domains.billing.models import PriceDiscount, PricePlan
from engine.domains.billing.plans import apply_discount

DAY = timedelta(days=1)


@dataclass
class Line:
    """A priced line before it is stored: ``amount`` is rounded, ``explanation`` says how."""

    day: date
    quantity: Decimal
    amount: Decimal
    explanation: dict[str, Any] = field(default_factory=dict)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + DAY


def days(start: datetime, end: datetime) -> list[date]:
    """Every UTC day that [start, end) touches."""
    first, last = start.astimezone(UTC).date(), (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)] if end > start else []


def _period_price(plan: PricePlan, quantity: Decimal, tier_mode: str | None) -> Decimal:
    return tiers.price(quantity, tier_mode or plan.tier_mode, Decimal(plan.unit_price), list(plan.tiers or []))


def _per_day(plan: PricePlan, period: Decimal, quantity: Decimal, day: date,
             rule: str | None) -> tuple[Decimal, str | None]:
    """The price of one whole day for a price of ``period`` per plan unit."""
    if plan.unit in ("month", "year"):
        rule = rule or plan.day_rule or dayrules.DEFAULT_RULE[plan.unit]
        fixed = None if plan.day_price is None else Decimal(plan.day_price) * quantity
        return dayrules.day_price(period, plan.unit, rule, day, fixed), rule
    if plan.unit == "hour":
        return period * 24, None
    return period, None  # day


def resource_day(plan: PricePlan, quantity: Decimal, day: date, started_at: datetime, stopped_at: datetime | None,
                 discount: PriceDiscount | None = None, *, rule: str | None = None,
                 tier_mode: str | None = None) -> Line | None:
    """What ``quantity`` units running from ``started_at`` to ``stopped_at`` (None: still running)
    cost on ``day``; None when it did not run that day. ``rule`` and ``tier_mode`` override the
    plan's (quotes compare them)."""
    lo, hi = day_bounds(day)
    run_from, run_to = max(started_at, lo), min(stopped_at or hi, hi)
    if run_to <= run_from:
        return None
    if plan.unit == "use":
        raise ValueError("a per-use plan prices usage, not running time")
    seconds = Decimal((run_to - run_from).total_seconds())
    hours = Decimal(24) if plan.proration == "day" else Decimal(math.ceil(seconds / 3600))
    period = _period_price(plan, quantity, tier_mode)
    whole_day, used_rule = _per_day(plan, period, quantity, day, rule)
    gross = whole_day * hours / 24
    net, discounted = apply_discount(gross, discount)
    why: dict[str, Any] = {"unit": plan.unit, "proration": plan.proration, "hours": str(hours),
                           "day_price": str(whole_day), "tier_mode": tier_mode or plan.tier_mode}
    if used_rule:
        why["day_rule"] = used_rule
    if discounted:
        why["discount"] = discounted
    return Line(day, quantity, money.round_line(net), why)


def usage_day(plan: PricePlan, quantity: Decimal, day: date, discount: PriceDiscount | None = None, *,
              rule: str | None = None, tier_mode: str | None = None) -> Line:
    """What one day's aggregated usage of ``quantity`` plan units costs (a monthly or yearly price,
    e.g. storage per GB-month, through its day rule)."""
    period = _period_price(plan, quantity, tier_mode)
    used_rule = None
    if plan.unit in ("month", "year"):
        period, used_rule = _per_day(plan, period, quantity, day, rule)
    net, discounted = apply_discount(period, discount)
    why: dict[str, Any] = {"unit": plan.unit, "tier_mode": tier_mode or plan.tier_mode}
    if used_rule:
        why["day_rule"] = used_rule
    if discounted:
        why["discount"] = discounted
    return Line(day, quantity, money.round_line(net), why)
