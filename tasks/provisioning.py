"""Provisioning operators: an order's units from its placement choice, and each unit's way to a
running resource or to operations (``bpmn/provisioning.bpmn``).

The units and the order's status are the provisioning domain's, reached through the
``provisioning`` port (``tasks.ports.ProvisioningPort``); these functions check their parameters
and turn the port's refusals into BPMN error codes. The cloud calls themselves are the
``connector/*`` operators'; ``work_order_request`` builds what the ``work_order`` process takes.
"""

from __future__ import annotations

from typing import Any

from tasks.ports import Refused, current
from tasks.registry import OperatorError, operator

RETRYABLE = ("CONNECTOR_TIMEOUT", "CONNECTOR_UNREACHABLE")


def _text(value: Any, name: str, limit: int = 200) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise OperatorError("INVALID_PARAMETERS", f"{name} must be text of 1 to {limit} characters")
    return value


def _port(call: Any) -> dict[str, Any]:
    try:
        return call()
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused


@operator("provisioning/plan", description="Plan one provisioning unit per copy of each order line")
def plan(order_id: str, placement_choice: dict[str, Any] | None = None) -> dict[str, Any]:
    """{order_id, number, units}; a repeat returns the same units. Copies the placement choice put
    on no usable pool (or all, without a choice) are manual: operations deliver them."""
    if placement_choice is not None and not isinstance(placement_choice, dict):
        raise OperatorError("INVALID_CHOICE", "placement_choice must be an object or null")
    return _port(lambda: current().provisioning.plan(_text(order_id, "order_id", 36), placement_choice))


@operator("provisioning/attempt", description="Count one more create attempt of a unit")
def attempt(unit_id: str) -> dict[str, Any]:
    return _port(lambda: current().provisioning.attempt(_text(unit_id, "unit_id", 36)))


@operator("provisioning/running", description="Record that a unit runs, on its resource")
def running(unit_id: str, resource: dict[str, Any] | None = None, work_order_id: str | None = None) -> dict[str, Any]:
    """{unit_id, resource_id, started_at, billing}: ``billing`` is what ``billing/start`` takes."""
    if resource is not None and not isinstance(resource, dict):
        raise OperatorError("INVALID_PARAMETERS", "resource must be an object or null")
    return _port(lambda: current().provisioning.running(_text(unit_id, "unit_id", 36), resource,
                                                        work_order_id=work_order_id))


@operator("provisioning/failed", description="Record a unit's failure (operations take over)")
def failed(unit_id: str, code: str, message: str | None = None, work_order_id: str | None = None) -> dict[str, Any]:
    return _port(lambda: current().provisioning.failed(_text(unit_id, "unit_id", 36), _text(code, "code", 64),
                                                       str(message or "")[:1000], work_order_id=work_order_id))


@operator("provisioning/replace", description="Another pool for a unit a provider refused")
def replace(unit_id: str, failed_pool_id: str | None = None, excluded: list[str] | None = None) -> dict[str, Any]:
    """{unit: the unit re-planned on the cheapest other pool that holds it, or None; excluded}."""
    if excluded is not None and not (isinstance(excluded, list) and all(isinstance(p, str) for p in excluded)):
        raise OperatorError("INVALID_PARAMETERS", "excluded must be a list of pool ids")
    return _port(lambda: current().provisioning.replace(_text(unit_id, "unit_id", 36), failed_pool_id,
                                                        excluded=excluded))


@operator("provisioning/finish", description="Set the order's status from its units")
def finish(order_id: str) -> dict[str, Any]:
    """{order_id, number, status: running | partial | failed, units, running, failed, waiting}."""
    return _port(lambda: current().provisioning.finish(_text(order_id, "order_id", 36)))


def work_order_request(kind: str, unit: dict[str, Any], order: dict[str, Any], error: dict[str, Any] | None = None,
                       attempt_no: int = 0) -> dict[str, Any]:
    """What ``work_order`` takes for a unit: a delivery (no pool) or a failure (``error``)."""
    details = {"unit": {k: unit.get(k) for k in ("unit_id", "title", "pool_id", "account_id", "spec",
                                                 "client_token")}}
    if error:
        details["error"] = {k: error.get(k) for k in ("code", "message")}
    verb = "Deliver" if kind == "delivery" else "Repair"
    return {"kind": kind, "title": f"{verb} {unit.get('title')}"[:200], "details": details,
            "order_id": order.get("order_id"), "resource_id": None, "unit_id": unit.get("unit_id"),
            "source_key": f"prov:{unit.get('unit_id')}:{kind}:{attempt_no}"}


@operator("provisioning/work_order_request", description="Build the work order a unit needs")
def build_work_order_request(kind: str, unit: dict[str, Any], order: dict[str, Any],
                             error: dict[str, Any] | None = None, attempt_no: int = 0) -> dict[str, Any]:
    if kind not in ("delivery", "failure"):
        raise OperatorError("INVALID_PARAMETERS", "kind must be delivery or failure")
    if not isinstance(unit, dict) or not isinstance(order, dict):
        raise OperatorError("INVALID_PARAMETERS", "unit and order must be objects")
    return work_order_request(kind, unit, order, error if isinstance(error, dict) else None, int(attempt_no or 0))
