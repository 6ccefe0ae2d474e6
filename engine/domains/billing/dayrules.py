"""Day rules: how a monthly or yearly price becomes the price of one day, chosen per plan.

Monthly prices (``MONTH_RULES``): ÷ 31, × 12 ÷ 365, ÷ the days of that month, a fixed day price,
× 12 ÷ the days of that year. Yearly prices (``YEAR_RULES``): ÷ 365, a fixed day price, ÷ the days
of that year. The result is exact (no rounding here: ``money.round_line`` rounds the finished line).
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

MONTH_RULES = ("month_div_31", "month_x12_div_365", "month_div_days_in_month", "fixed_day",
               "month_x12_div_days_in_year")
YEAR_RULES = ("year_div_365", "fixed_day", "year_div_days_in_year")
DEFAULT_RULE = {"month": "month_div_days_in_month", "year": "year_div_days_in_year"}


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def days_in_year(day: date) -> int:
    return 366 if calendar.isleap(day.year) else 365


def rules_for(unit: str) -> tuple[str, ...]:
    """The rules a plan priced per ``unit`` may choose (none for hour, day and use)."""
    return MONTH_RULES if unit == "month" else YEAR_RULES if unit == "year" else ()


def day_price(period_price: Decimal, unit: str, rule: str, day: date, fixed: Decimal | None = None) -> Decimal:
    """The price of ``day`` under ``rule`` for a price of ``period_price`` per month or year."""
    if rule not in rules_for(unit):
        raise ValueError(f"day rule {rule!r} does not apply to a price per {unit}")
    if rule == "fixed_day":
        if fixed is None:
            raise ValueError("the fixed_day rule needs a day price")
        return fixed
    if rule == "month_div_31":
        return period_price / 31
    if rule == "month_x12_div_365":
        return period_price * 12 / 365
    if rule == "month_div_days_in_month":
        return period_price / days_in_month(day)
    if rule == "month_x12_div_days_in_year":
        return period_price * 12 / days_in_year(day)
    if rule == "year_div_365":
        return period_price / 365
    return period_price / days_in_year(day)  # year_div_days_in_year
