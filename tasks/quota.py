"""Quota operators: book an application's demand as in-process, turn it into used, give it back.

The demand is computed here, from the application's items (``connectors.vector``: dimensions per unit
times quantity, GPUs also per accelerator model as ``gpus:<model>``);
the bookkeeping goes through the platform's quota port (see ``tasks.ports``), which holds the
organisation tree and the quota rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from connectors import vector
from tasks.ports import QuotaShort, Refused, current
from tasks.registry import OperatorError, operator


def _amount(item: dict[str, Any], dimension: str, value: Any) -> Decimal:
    try:
        amount = Decimal(str(value or 0))
    except ArithmeticError as exc:
        raise OperatorError("INVALID_ITEMS", f"item {dimension} {value!r} is not a number") from exc
    if not amount.is_finite() or amount < 0:
        raise OperatorError("INVALID_ITEMS", f"item {dimension} {value!r} must be a non-negative number")
    return amount


def demand(items: Iterable[dict[str, Any]]) -> dict[str, Decimal]:
    """What the items need, per quota dimension (``connectors.vector``): every base dimension (zero
    included), then ``gpus:<model>`` for each accelerator model the items name."""
    total = dict.fromkeys(vector.NAMES, Decimal(0))
    for item in items:
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise OperatorError("INVALID_ITEMS", f"item quantity {quantity!r} must be a positive integer")
        for dimension, value in vector.per_unit(item):
            if not vector.is_dimension(dimension):
                raise OperatorError("INVALID_ITEMS", f"item GPU model {vector.gpu_model_of(dimension)!r} is not valid")
            total[dimension] = total.get(dimension, Decimal(0)) + _amount(item, dimension, value) * quantity
    return {d: a for d, a in total.items() if d in vector.BY_NAME or a}


def _plain(amounts: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in amounts.items()}


@operator("quota/reserve", description="Reserve an application's items as in-process quota")
def reserve(application_id: str) -> dict[str, Any]:
    """Raises QUOTA_SHORT (details: dimension, level, requested, available) when it does not fit."""
    ports = current()
    application = ports.applications.get(application_id)
    need = demand(application["items"])
    try:
        held = ports.quota.reserve(application_id, need)
    except QuotaShort as short:
        raise OperatorError("QUOTA_SHORT", str(short), {
            "dimension": short.dimension, "level": short.level,
            "requested": str(short.requested), "available": str(short.available)}) from short
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused
    return {"reserved": _plain(held)}


@operator("quota/commit", description="Turn an application's in-process quota into used")
def commit(application_id: str) -> dict[str, Any]:
    try:
        return {"committed": _plain(current().quota.commit(application_id))}
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused


@operator("quota/release", description="Release an application's in-process quota")
def release(application_id: str) -> dict[str, Any]:
    try:
        return {"released": _plain(current().quota.release(application_id))}
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused
