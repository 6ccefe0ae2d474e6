"""Resource request operators: the steps of ``termination`` and ``resource_action`` that are
neither the connector's nor billing's (``tasks.connector``, ``tasks.billing``).

``resource_actions/get`` reads the request the instance runs for (and, for a termination, the
provisioning unit that made the resource); ``/mark`` moves it (approved, running, done, rejected,
failed); ``/approvers`` and ``/decision`` serve ``resource_approval``; ``/release_quota`` gives back
one copy of the order line's used quota; ``/unit_terminated`` marks the provisioning unit
terminated; ``/notify`` tells the requester; ``/expire`` opens a term's
termination (``subscription_expiry``). All through ``tasks.ports.ResourceActionsPort``.
"""

from __future__ import annotations

from typing import Any

from tasks.ports import Refused, current
from tasks.registry import OperatorError, operator

DECISIONS = ("approve", "reject")
# event -> (title, body); fields: kind, name, comment
TEMPLATES = {
    "done": ("{kind} of {name} done", "Your request to {kind} {name} is done.{comment}"),
    "rejected": ("{kind} of {name} rejected", "Your request to {kind} {name} was rejected.{comment}"),
    "failed": ("{kind} of {name} failed", "Your request to {kind} {name} failed.{comment}"),
}


def _call(call: Any) -> Any:
    try:
        return call()
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused


@operator("resource_actions/expire", description="Open the termination of a unit whose term has passed")
def expire(unit_id: str) -> dict[str, Any]:
    """{terminate: true, request_id, resource_id}, or terminate false and why (the unit no longer
    runs or has no known resource, its resource is deleted, a termination is open already, a repeat);
    NOT_DUE before ``expires_at``."""
    if not isinstance(unit_id, str) or not unit_id:
        raise OperatorError("INVALID_PARAMETERS", "unit_id must be a provisioning unit's id")
    return _call(lambda: current().resource_actions.expire(unit_id))


@operator("resource_actions/get", description="Read the resource request this process runs for")
def get(request_id: str) -> dict[str, Any]:
    """request_id, kind, status, resource_id, params, requested_by, resource_name, unit (a
    termination's provisioning unit, or None)."""
    return _call(lambda: current().resource_actions.get(request_id))


@operator("resource_actions/mark", description="Move a resource request to a new status")
def mark(request_id: str, status: str, result: dict[str, Any] | None = None) -> dict[str, Any]:
    if result is not None and not isinstance(result, dict):
        raise OperatorError("INVALID_PARAMETERS", "result must be an object")
    return _call(lambda: current().resource_actions.mark(request_id, status, result))


@operator("resource_actions/approvers", description="Pick the approvers of a resource request")
def approvers(request_id: str, lane: str = "approver", role: str = "approver",
              fallback: str = "role:tenant_admin") -> dict[str, list[str]]:
    """``{lane: [user names]}`` for ``lane_owners``; ``[fallback]`` when no organisation has one."""
    names = _call(lambda: current().resource_actions.approvers(request_id, role))
    return {lane: names or [fallback]}


@operator("resource_actions/decision", description="Record an approval step's decision on a resource request")
def decision(request_id: str, step: str, decision: str, comment: str | None = None) -> dict[str, Any]:
    if decision not in DECISIONS:
        raise OperatorError("INVALID_DECISION", f"decision {decision!r} must be one of {', '.join(DECISIONS)}")
    return _call(lambda: current().resource_actions.decision(request_id, step, decision, comment))


@operator("resource_actions/release_quota", description="Give back one copy of a terminated line's used quota")
def release_quota(request_id: str) -> dict[str, Any]:
    return {"released": _call(lambda: current().resource_actions.release_quota(request_id))}


@operator("resource_actions/unit_terminated", description="Mark the provisioning unit of a terminated resource")
def unit_terminated(unit: dict[str, Any] | None) -> dict[str, Any]:
    """``unit``: what ``resource_actions/get`` returned; None (no unit made the resource) does nothing."""
    if unit is None:
        return {"unit_id": None}
    if not isinstance(unit, dict) or not isinstance(unit.get("unit_id"), str):
        raise OperatorError("INVALID_PARAMETERS", "unit must be a provisioning unit or null")
    return {"unit_id": unit["unit_id"], **_call(lambda: current().provisioning.terminated(unit["unit_id"]))}


@operator("resource_actions/notify", description="Tell the requester how a resource request ended")
def notify(request_id: str, event: str, comment: str | None = None) -> dict[str, Any]:
    template = TEMPLATES.get(event)
    if template is None:
        raise OperatorError("UNKNOWN_EVENT", f"no message for event {event!r}; known: {', '.join(TEMPLATES)}")
    ports = current()
    request = _call(lambda: ports.resource_actions.get(request_id))
    if not request.get("requested_by"):
        return {"sent": 0}
    if (request.get("params") or {}).get("reason") == "expired":  # subscription_expiry opened it
        comment = " ".join(filter(None, ["Its purchased term ended.", comment]))
    fields = {"kind": request["kind"], "name": request.get("resource_name") or request["resource_id"],
              "comment": f" {comment}" if comment else ""}
    title, body = template[0].format(**fields), template[1].format(**fields)
    link = {"resource_id": request["resource_id"], "request_id": request_id}
    return {"sent": _call(lambda: ports.messages.send(request["tenant_id"], [request["requested_by"]],
                                                      f"resource.{event}", title, body, link))}
