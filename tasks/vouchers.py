"""Voucher operators: quote, hold, apply and release a redemption; record a voucher's expiry.

The rules (ratio, frequency, remaining value, the bill) live behind the vouchers port
(``tasks.ports.VouchersPort``), which holds the rows and their locks; these operators only pass
the process's values across and turn a refusal into the BPMN error its code names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tasks.ports import Refused, current
from tasks.registry import OperatorError, operator


def _call(step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return step()
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused


def _text(value: Any, name: str, max_len: int = 2000) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise OperatorError("INVALID_INPUT", f"{name} must be text of at most {max_len} characters")
    return value


@operator("vouchers/quote", description="Compute what a voucher may cover of a closed bill")
def quote(redemption_id: str) -> dict[str, Any]:
    """{amount, limits: {voucher, ratio, bill, requested}, ratio, eligible_base, bill_total, period, reason}."""
    return _call(lambda: current().vouchers.quote(redemption_id))


@operator("vouchers/hold", description="Hold the quoted amount of the voucher")
def hold(redemption_id: str) -> dict[str, Any]:
    """NOTHING_TO_REDEEM when a concurrent redemption took what the quote saw."""
    return _call(lambda: current().vouchers.hold(redemption_id))


@operator("vouchers/apply", description="Apply the credit to the bill and the tenant's account")
def apply(redemption_id: str, decision: str, amount: Any = None, comment: Any = None) -> dict[str, Any]:
    """``decision`` approve applies all that is held; reduce applies ``amount`` (less than held)."""
    if decision not in ("approve", "reduce"):
        raise OperatorError("INVALID_DECISION", f"apply follows an approve or reduce decision, not {decision!r}")
    if decision == "reduce" and amount in (None, ""):
        raise OperatorError("INVALID_AMOUNT", "a reduce decision names the amount")
    return _call(lambda: current().vouchers.apply(redemption_id, amount if decision == "reduce" else None,
                                                  _text(comment, "comment")))


@operator("vouchers/release", description="End a redemption without credit and release its hold")
def release(redemption_id: str, status: str, comment: Any = None, reason: Any = None) -> dict[str, Any]:
    """``status`` rejected (the reviewer said no) or refused (a rule left nothing to redeem)."""
    return _call(lambda: current().vouchers.release(redemption_id, status, _text(comment, "comment"),
                                                    _text(reason, "reason", 500)))


@operator("vouchers/expire", description="Record a voucher's expiry once its time has come")
def expire(voucher_id: str) -> dict[str, Any]:
    return _call(lambda: current().vouchers.expire(voucher_id))
