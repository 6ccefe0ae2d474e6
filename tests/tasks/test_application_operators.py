"""Application operators against fake ports: ``applications/approvers`` puts the port's approvers
(or the fallback) in the lane, ``applications/mark`` and ``applications/decision`` pass the
change to the port and return its answer; a refusal keeps the port's code; a decision other than
approve or reject never reaches the port."""

from __future__ import annotations

import pytest

from tasks import applications
from tasks.ports import Refused
from tasks.registry import OperatorError

# ---------------------------------------------------------------------------------------------- approvers


def test_the_nearest_organisations_holders_of_the_role_own_the_lane(ports):
    ports.applications.holders["finance"] = ["carol", "dave"]
    assert applications.approvers(application_id="app-1", lane="finance", role="finance") == {
        "finance": ["carol", "dave"]}
    assert ports.applications.calls == [("approvers", "app-1", "finance")]


def test_with_no_holder_the_lane_falls_back(ports):
    assert applications.approvers(application_id="app-1") == {"approver": ["role:tenant_admin"]}
    assert applications.approvers(application_id="app-1", fallback="role:ops") == {"approver": ["role:ops"]}


# ---------------------------------------------------------------------------------------------- mark


def test_mark_returns_the_ports_answer(ports):
    assert applications.mark(application_id="app-1", status="approved", comment="ok") == {
        "status": "approved", "previous": "approving"}
    assert ports.applications.calls == [("mark", "app-1", "approved", "ok")]


def test_a_refused_mark_keeps_the_ports_code_and_message(ports):
    ports.applications.refuse = Refused("INVALID_TRANSITION", "cancelled -> approved is not allowed")
    with pytest.raises(OperatorError) as err:
        applications.mark(application_id="app-1", status="approved")
    assert (err.value.code, err.value.message) == ("INVALID_TRANSITION", "cancelled -> approved is not allowed")


# ---------------------------------------------------------------------------------------------- decision


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decision_is_recorded_and_returned_with_the_approvals(ports, decision):
    result = applications.decision(application_id="app-1", step="manager", decision=decision, comment="fine")
    assert result == {"decision": decision,
                      "approvals": [{"step": "manager", "decision": decision, "comment": "fine"}]}


@pytest.mark.parametrize("decision", ["approved", "APPROVE", "", "maybe", None])
def test_an_invalid_decision_is_refused_before_the_port(ports, decision):
    with pytest.raises(OperatorError) as err:
        applications.decision(application_id="app-1", step="manager", decision=decision)
    assert err.value.code == "INVALID_DECISION"
    assert ports.applications.calls == []


def test_a_refused_decision_keeps_the_ports_code(ports):
    ports.applications.refuse = Refused("ALREADY_DECIDED", "step manager was decided")
    with pytest.raises(OperatorError) as err:
        applications.decision(application_id="app-1", step="manager", decision="approve")
    assert err.value.code == "ALREADY_DECIDED"
