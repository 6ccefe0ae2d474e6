"""Order operators: create the order of an approved application with its items (fulfilment comes later)."""

from __future__ import annotations

from typing import Any

from connectors import vector
from tasks.ports import Refused, current
from tasks.registry import OperatorError, operator

LINE_FIELDS = ("product_id", "spec_id", "product_name", "spec_name", "quantity", *vector.LINE_FIELDS)
OPTIONAL_FIELDS = ("term_months",)  # None: the line runs until terminated


def order_lines(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One order line per approved item, in the application's order."""
    if not items:
        raise OperatorError("NO_ITEMS", "the application has no items to order")
    lines = []
    for item in items:
        missing = [f for f in LINE_FIELDS if f not in item]
        if missing:
            raise OperatorError("INVALID_ITEMS", f"an item lacks {', '.join(missing)}")
        lines.append({**{f: item[f] for f in LINE_FIELDS}, **{f: item.get(f) for f in OPTIONAL_FIELDS}})
    return lines


@operator("orders/create", description="Create the order of an approved application")
def create(application_id: str) -> dict[str, Any]:
    """Returns {order_id, number, created}; a repeat for the same application returns its order."""
    ports = current()
    application = ports.applications.get(application_id)
    if application["status"] not in ("approved", "ordered"):
        raise OperatorError("NOT_APPROVED", f"application {application['number']} is {application['status']}, "
                                            "not approved")
    try:
        return ports.orders.create(application_id, order_lines(application["items"]))
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused
