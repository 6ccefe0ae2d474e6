"""Money: CNY as ``Decimal``, and the one rounding rule every bill line, quote line and adjustment uses.

The rule: **each bill line is rounded once, to 0.01 CNY, half-up** (``round_line``). Everything
before that (day prices from a monthly price, tier sums, discounts) stays exact ``Decimal``, so a
quote and a bill made from the same inputs round the same way and agree to the cent. Totals are sums
of rounded lines, never rounded again. Vouchers and any other consumer of bill lines use this module.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CURRENCY = "CNY"
CENT = Decimal("0.01")
ZERO = Decimal(0)


def round_line(amount: Decimal) -> Decimal:
    """A line's amount as billed: 0.01 CNY, half-up (0.005 -> 0.01, -0.005 -> -0.01)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse(value: Any, *, places: int | None = None, minimum: Decimal | None = ZERO) -> Decimal | None:
    """``value`` as a finite Decimal (from str, int, Decimal, or a JSON number's literal), or None when it is not
    one, has more than ``places`` decimals or is below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return None
    try:  # a JSON number arrives as the float of its shortest literal: repr() gives that literal back
        amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or (minimum is not None and amount < minimum):
        return None
    if places is not None and amount != amount.quantize(Decimal(1).scaleb(-places)):
        return None
    return amount


def text(amount: Decimal | None) -> str | None:
    """How a price crosses JSON: a string without trailing zeros (the same before and after a
    database round trip), never a float."""
    return None if amount is None else format(Decimal(amount).normalize(), "f")
