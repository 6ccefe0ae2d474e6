"""Application operators: who approves, the status milestones, and each approval step's decision."""

from __future__ import annotations

from typing import Any

from tasks.ports import Refused, current
from tasks.registry import OperatorError, operator

DECISIONS = ("approve", "reject")


@operator("applications/approvers", description="Pick the approvers of an application's organisation")
def approvers(application_id: str, lane: str = "approver", role: str = "approver",
              fallback: str = "role:tenant_admin") -> dict[str, list[str]]:
    """``{lane: [user names]}`` for ``lane_owners``: holders of ``role`` in the nearest
    organisation from the applicant's up that has one, else ``[fallback]``."""
    names = current().applications.approvers(application_id, role)
    return {lane: names or [fallback]}


@operator("applications/mark", description="Record an application status milestone")
def mark(application_id: str, status: str, comment: str | None = None) -> dict[str, Any]:
    try:
        return current().applications.mark(application_id, status, comment=comment)
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused


@operator("applications/decision", description="Record an approval step's decision")
def decision(application_id: str, step: str, decision: str, comment: str | None = None) -> dict[str, Any]:
    """Returns {decision, approvals}; a decision other than approve/reject is INVALID_DECISION."""
    if decision not in DECISIONS:
        raise OperatorError("INVALID_DECISION", f"decision {decision!r} must be one of {', '.join(DECISIONS)}")
    try:
        recorded = current().applications.record_decision(application_id, step, decision, comment)
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused
    return {"decision": decision, **recorded}
