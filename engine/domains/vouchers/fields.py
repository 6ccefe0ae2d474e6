"""Reading the fields of a budget, a campaign or a request: each refusal is a 422 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from engine.domains.accounts.ledger import money
from engine.errors import InvalidInput

__all__ = ["bad", "integer", "money", "ratio", "text", "when"]


def bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


def integer(value: Any, field: str, *, low: int = 1, high: int = 10_000_000) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise bad(field, f"a whole number from {low} to {high}")
    return value


def ratio(value: Any, field: str) -> Decimal:
    """A share of a bill: more than 0, at most 1, at most four decimal places."""
    try:
        r = Decimal(str(value)) if not isinstance(value, (bool, float)) else None
    except ArithmeticError:
        r = None
    if r is None or not r.is_finite() or not 0 < r <= 1 or r != r.quantize(Decimal("0.0001")):
        raise bad(field, "a decimal share above 0 and at most 1, e.g. 0.30")
    return r


def text(value: Any, field: str, max_len: int, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > max_len or (required and not value.strip()):
        raise bad(field, f"{'non-empty ' if required else ''}text of at most {max_len} characters")
    return value.strip()


def when(value: Any, field: str) -> datetime:
    """An aware date-time (ISO 8601 text or datetime), as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            value = None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise bad(field, "an ISO 8601 date-time with its offset, e.g. 2026-03-01T00:00:00Z")
    return value.astimezone(UTC)
