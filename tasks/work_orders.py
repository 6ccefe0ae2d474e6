"""Work order operators: open a work order for operations, move it along, escalate it.

``bpmn/work_order.bpmn`` calls them; the rows, their lifecycle and the tenant check live behind
the work orders port (``tasks.ports.WorkOrdersPort``). These operators check the shape of what
the process passes, pass it across and turn a refusal into the BPMN error its code names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tasks.ports import Refused, current
from tasks.registry import OperatorError, operator

KINDS = ("delivery", "failure")
STATUSES = ("done", "reopened", "accepted", "cancelled")
ADMINISTRATORS = "role:platform_admin"


def _call(step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return step()
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused


def _text(value: Any, name: str, max_len: int, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise OperatorError("INVALID_WORK_ORDER", f"{name} is required")
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise OperatorError("INVALID_WORK_ORDER", f"{name} must be text of at most {max_len} characters")
    return value


def _object(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise OperatorError("INVALID_WORK_ORDER", f"{name} must be an object")
    return value


@operator("work_orders/open", description="Open a work order for operations (once per source key)")
def open_work_order(kind: str, title: str, source_key: str, details: Any = None, order_id: Any = None,
                    resource_id: Any = None, unit_id: Any = None) -> dict[str, Any]:
    """``kind`` delivery or failure; ``source_key`` makes it idempotent ("prov:<unit>:<attempt>").
    Returns {work_order_id, number, status, applicant, created, ...}."""
    if kind not in KINDS:
        raise OperatorError("INVALID_WORK_ORDER", f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    title = _text(title, "title", 200, required=True)
    key = _text(source_key, "source_key", 200, required=True)
    ids = {name: _text(value, name, 36) for name, value in (("order_id", order_id), ("resource_id", resource_id),
                                                             ("unit_id", unit_id))}
    return _call(lambda: current().work_orders.open(kind, title, _object(details, "details"), key, **ids))


@operator("work_orders/update", description="Move a work order: done, reopened, accepted or cancelled")
def update(work_order_id: str, status: str, result: Any = None, comment: Any = None) -> dict[str, Any]:
    """done carries the operations form's ``result``; reopened and the closing statuses the
    applicant's ``comment``. Returns {work_order_id, number, status, result, ...}."""
    if status not in STATUSES:
        raise OperatorError("INVALID_STATUS", f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    return _call(lambda: current().work_orders.update(work_order_id, status, _object(result, "result"),
                                                      _text(comment, "comment", 2000)))


@operator("work_orders/escalate", description="Tell the platform administrators a work order is overdue")
def escalate(work_order_id: str) -> dict[str, Any]:
    """Notes the escalation on the work order and sends each platform administrator a site message;
    returns {escalated_at, sent}."""
    ports = current()
    w = _call(lambda: ports.work_orders.escalate(work_order_id))
    title = f"Work order {w['number']} is overdue"
    body = f"Operations have not finished work order {w['number']} \"{w['title']}\" in time."
    link = {"work_order_id": w["work_order_id"], "number": w["number"]}
    sent = ports.messages.send(w["tenant_id"], [ADMINISTRATORS], "work_order_escalated", title, body, link)
    return {"escalated_at": w["escalated_at"], "sent": sent}
