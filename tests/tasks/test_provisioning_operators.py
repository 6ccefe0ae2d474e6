"""``provisioning/*`` operators against a fake port: parameters checked before the port is called,
the port's refusals become the BPMN error of their code, and the work order request a unit needs
(delivery or failure) has the shape the ``work_order`` process takes, with an idempotent source key."""

from __future__ import annotations

from typing import Any

import pytest

from tasks import provisioning
from tasks.ports import Refused, bound
from tasks.registry import REGISTRY, OperatorError

UNIT = {"unit_id": "u-1", "title": "small #1 (OR-1)", "manual": False, "account_id": "a-1", "pool_id": "p-1",
        "spec": {"name": "or-1-1-1", "vcpu": 2}, "client_token": "prov-u-1", "status": "planned"}


class FakeProvisioning:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.refuse: Refused | None = None

    def _call(self, *call: Any) -> dict[str, Any]:
        self.calls.append(call)
        if self.refuse is not None:
            raise self.refuse
        return {"called": call[0]}

    def plan(self, order_id: str, placement_choice: dict[str, Any] | None) -> dict[str, Any]:
        return self._call("plan", order_id, placement_choice)

    def attempt(self, unit_id: str) -> dict[str, Any]:
        return self._call("attempt", unit_id)

    def running(self, unit_id: str, resource: dict[str, Any] | None, work_order_id: str | None = None) -> Any:
        return self._call("running", unit_id, resource, work_order_id)

    def failed(self, unit_id: str, code: str, message: str, work_order_id: str | None = None) -> Any:
        return self._call("failed", unit_id, code, message, work_order_id)

    def replace(self, unit_id: str, failed_pool_id: str | None, excluded: list[str] | None = None) -> Any:
        return self._call("replace", unit_id, failed_pool_id, excluded)

    def finish(self, order_id: str) -> dict[str, Any]:
        return self._call("finish", order_id)


class Ports:
    def __init__(self) -> None:
        self.provisioning = FakeProvisioning()


@pytest.fixture
def ports() -> Any:
    p = Ports()
    with bound(p):
        yield p


def test_every_step_of_the_flow_is_a_registered_operator() -> None:
    for verb in ("plan", "attempt", "running", "failed", "replace", "finish", "work_order_request"):
        assert REGISTRY.get(f"provisioning/{verb}") is not None


def test_the_operators_hand_their_parameters_to_the_port(ports: Any) -> None:
    choice = {"assignments": [{"request_id": "item1", "pool_id": "p-1", "copies": 1}]}
    provisioning.plan(order_id="o-1", placement_choice=choice)
    provisioning.attempt(unit_id="u-1")
    provisioning.running(unit_id="u-1", resource={"resource_id": "r-1"})
    provisioning.failed(unit_id="u-1", code="CONNECTOR_ERROR", message="x" * 5000)
    provisioning.replace(unit_id="u-1", failed_pool_id="p-1", excluded=["p-0"])
    provisioning.finish(order_id="o-1")
    assert ports.provisioning.calls == [
        ("plan", "o-1", choice), ("attempt", "u-1"), ("running", "u-1", {"resource_id": "r-1"}, None),
        ("failed", "u-1", "CONNECTOR_ERROR", "x" * 1000, None), ("replace", "u-1", "p-1", ["p-0"]),
        ("finish", "o-1")]


@pytest.mark.parametrize(("call", "code"), [
    (lambda: provisioning.plan(order_id="", placement_choice=None), "INVALID_PARAMETERS"),
    (lambda: provisioning.plan(order_id="o-1", placement_choice=["not", "an", "object"]), "INVALID_CHOICE"),
    (lambda: provisioning.running(unit_id="u-1", resource="r-1"), "INVALID_PARAMETERS"),
    (lambda: provisioning.failed(unit_id="u-1", code=""), "INVALID_PARAMETERS"),
    (lambda: provisioning.replace(unit_id="u-1", excluded="p-1"), "INVALID_PARAMETERS"),
    (lambda: provisioning.build_work_order_request(kind="other", unit=UNIT, order={}), "INVALID_PARAMETERS"),
])
def test_bad_parameters_are_refused_before_the_port(ports: Any, call: Any, code: str) -> None:
    with pytest.raises(OperatorError) as err:
        call()
    assert err.value.code == code and ports.provisioning.calls == []


def test_a_refusal_of_the_port_is_the_bpmn_error_of_its_code(ports: Any) -> None:
    ports.provisioning.refuse = Refused("UNKNOWN_ORDER", "no order 'o-9'")
    with pytest.raises(OperatorError) as err:
        provisioning.finish(order_id="o-9")
    assert (err.value.code, err.value.message) == ("UNKNOWN_ORDER", "no order 'o-9'")


def test_a_failure_work_order_request_names_the_unit_the_error_and_a_key_per_attempt() -> None:
    request = provisioning.build_work_order_request(
        kind="failure", unit=UNIT, order={"order_id": "o-1", "number": "OR-1"},
        error={"code": "CONNECTOR_TIMEOUT", "message": "no answer", "details": {"secret": "dropped"}}, attempt_no=4)
    assert request == {
        "kind": "failure", "title": "Repair small #1 (OR-1)", "order_id": "o-1", "resource_id": None,
        "unit_id": "u-1", "source_key": "prov:u-1:failure:4",
        "details": {"unit": {k: UNIT[k] for k in ("unit_id", "title", "pool_id", "account_id", "spec",
                                                  "client_token")},
                    "error": {"code": "CONNECTOR_TIMEOUT", "message": "no answer"}}}
    delivery = provisioning.build_work_order_request(kind="delivery", unit=UNIT, order={"order_id": "o-1"})
    assert delivery["title"].startswith("Deliver ") and delivery["source_key"] == "prov:u-1:delivery:0"
    assert "error" not in delivery["details"]
