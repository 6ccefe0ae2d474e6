"""Resource request operators against fake ports: parameters checked, the ports called with them,
refusals turned into BPMN error codes, and the requester told in the request's own tenant."""

from __future__ import annotations

from typing import Any

import pytest

from tasks import resource_actions
from tasks.ports import Refused, bound
from tasks.registry import REGISTRY, OperatorError

REQUEST = {"request_id": "r-1", "tenant_id": "t-alpha", "kind": "terminate", "status": "running",
           "resource_id": "res-1", "order_id": None, "params": {}, "requested_by": "alice",
           "resource_name": "vm-1", "unit": {"unit_id": "u-1", "order_id": "o-1"}}


class FakeRequests:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.refuse: Refused | None = None

    def _call(self, *call: Any) -> Any:
        self.calls.append(call)
        if self.refuse is not None:
            raise self.refuse
        return call

    def get(self, request_id: str) -> dict[str, Any]:
        self._call("get", request_id)
        return dict(REQUEST)

    def mark(self, request_id: str, status: str, result: dict[str, Any] | None = None) -> dict[str, Any]:
        self._call("mark", request_id, status, result)
        return {"status": status, "previous": "running", "at": "2026-03-02T09:00:00+00:00"}

    def approvers(self, request_id: str, role: str) -> list[str]:
        self._call("approvers", request_id, role)
        return []

    def decision(self, request_id: str, step: str, decision: str, comment: str | None) -> dict[str, Any]:
        self._call("decision", request_id, step, decision, comment)
        return {"step": step, "decision": decision, "comment": comment}

    def release_quota(self, request_id: str) -> dict[str, str]:
        self._call("release_quota", request_id)
        return {"vcpu": "2"}

    def expire(self, unit_id: str) -> dict[str, Any]:
        self._call("expire", unit_id)
        return {"terminate": True, "unit_id": unit_id, "resource_id": "res-1", "request_id": "r-1"}


class FakeProvisioning:
    def __init__(self) -> None:
        self.terminated_units: list[str] = []

    def terminated(self, unit_id: str) -> dict[str, Any]:
        self.terminated_units.append(unit_id)
        return {"status": "terminated"}


class FakeMessages:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def send(self, tenant_id: str | None, recipients: list[str], kind: str, title: str, body: str,
             link: dict[str, Any]) -> int:
        self.sent.append((tenant_id, recipients, kind, title, body, link))
        return len(recipients)


class Ports:
    def __init__(self) -> None:
        self.resource_actions = FakeRequests()
        self.provisioning = FakeProvisioning()
        self.messages = FakeMessages()


@pytest.fixture
def ports() -> Any:
    fake = Ports()
    with bound(fake):
        yield fake


def test_every_operator_is_registered():
    for name in ("get", "mark", "approvers", "decision", "release_quota", "unit_terminated", "notify", "expire"):
        assert REGISTRY.get(f"resource_actions/{name}") is not None


def test_without_approvers_the_tenant_administrators_get_the_lane(ports):
    assert resource_actions.approvers("r-1") == {"approver": ["role:tenant_admin"]}
    assert ports.resource_actions.calls == [("approvers", "r-1", "approver")]


def test_a_decision_other_than_approve_or_reject_is_refused_before_the_port(ports):
    with pytest.raises(OperatorError) as caught:
        resource_actions.decision("r-1", "organization", "maybe")
    assert caught.value.code == "INVALID_DECISION" and ports.resource_actions.calls == []


def test_a_port_refusal_is_the_bpmn_error_of_its_code(ports):
    ports.resource_actions.refuse = Refused("UNKNOWN_REQUEST", "no resource request 'x'")
    with pytest.raises(OperatorError) as caught:
        resource_actions.mark("x", "done")
    assert caught.value.code == "UNKNOWN_REQUEST"


def test_mark_takes_an_object_as_result(ports):
    with pytest.raises(OperatorError) as caught:
        resource_actions.mark("r-1", "done", result=["not", "an", "object"])  # type: ignore[arg-type]
    assert caught.value.code == "INVALID_PARAMETERS"
    assert resource_actions.mark("r-1", "done", {"ok": True})["status"] == "done"


def test_the_unit_is_terminated_only_when_provisioning_made_the_resource(ports):
    assert resource_actions.unit_terminated(None) == {"unit_id": None}
    assert resource_actions.unit_terminated({"unit_id": "u-1"}) == {"unit_id": "u-1", "status": "terminated"}
    assert ports.provisioning.terminated_units == ["u-1"]
    with pytest.raises(OperatorError):
        resource_actions.unit_terminated({"unit": "u-2"})


def test_the_requester_is_told_in_the_requests_tenant(ports):
    assert resource_actions.notify("r-1", "done") == {"sent": 1}
    tenant, to, kind, title, _body, link = ports.messages.sent[0]
    assert (tenant, to, kind) == ("t-alpha", ["alice"], "resource.done") and "vm-1" in title
    assert link == {"resource_id": "res-1", "request_id": "r-1"}
    with pytest.raises(OperatorError) as caught:
        resource_actions.notify("r-1", "exploded")
    assert caught.value.code == "UNKNOWN_EVENT"


def test_release_quota_returns_what_was_given_back(ports):
    assert resource_actions.release_quota("r-1") == {"released": {"vcpu": "2"}}


def test_expire_passes_the_unit_and_turns_a_refusal_into_its_code(ports):
    assert resource_actions.expire("u-1")["terminate"] is True
    assert ports.resource_actions.calls == [("expire", "u-1")]
    with pytest.raises(OperatorError) as caught:
        resource_actions.expire("")
    assert caught.value.code == "INVALID_PARAMETERS"
    ports.resource_actions.refuse = Refused("NOT_DUE", "later")
    with pytest.raises(OperatorError) as caught:
        resource_actions.expire("u-1")
    assert caught.value.code == "NOT_DUE"


def test_an_expired_terms_requester_is_told_why(ports, monkeypatch):
    monkeypatch.setitem(REQUEST, "params", {"reason": "expired"})
    assert resource_actions.notify("r-1", "done") == {"sent": 1}
    assert "Its purchased term ended." in ports.messages.sent[0][4]
