"""The connector/* operators against the real simulator and a fake resources port: the client
token travels with the result and the error, retryable failures are retried, a lost create
response never makes a second resource, and credentials never leave the operator."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from connectors import simulator
from connectors.base import Status
from tasks import connector as ops
from tasks.ports import Refused, bound
from tasks.registry import OperatorError

KEY = "operator-test-key-never-returned"
SPEC = {"name": "train-1", "vcpu": 4, "memory_gib": "16", "gpus_by_model": {"H100": 1}}


class FakeResources:
    """The resources port over one simulated account ("acc-1") of tenant t-alpha."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.rows: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, Any]] = []

    def connection(self, account_id: str) -> dict[str, Any]:
        self.calls.append(("connection", account_id))
        if account_id != "acc-1":
            raise Refused("UNKNOWN_ACCOUNT", f"no cloud account {account_id!r}")
        return {"account_id": "acc-1", "provider_type": "simulator", "endpoint": "sim://lab", "region": None,
                "options": {"state_path": self.state}, "credentials": {"api_key": KEY}}

    def record(self, account_id: str, resource: dict[str, Any], *, origin: str = "created") -> dict[str, Any]:
        self.calls.append(("record", resource["provider_id"]))
        rid = "r-" + resource["provider_id"]
        self.rows[rid] = {"resource_id": rid, "account_id": account_id, "provider_id": resource["provider_id"],
                          "client_token": resource["client_token"], "status": resource["status"], "pool_id": None,
                          "name": resource["name"]}
        return self.rows[rid]

    def target(self, resource_id: str) -> dict[str, Any]:
        if resource_id not in self.rows:
            raise Refused("UNKNOWN_RESOURCE", f"no resource {resource_id!r}")
        return self.rows[resource_id]

    def mark_deleted(self, resource_id: str) -> dict[str, Any]:
        self.rows[resource_id]["status"] = "deleted"
        return self.rows[resource_id]


class Ports:
    def __init__(self, resources: FakeResources) -> None:
        self.resources = resources


@pytest.fixture
def port(tmp_path, monkeypatch):
    state = tmp_path / "sim.sqlite3"
    simulator.configure(state, "lab", api_key=KEY)
    monkeypatch.setattr(ops, "sleep", lambda _s: None)
    fake = FakeResources(str(state))
    with bound(Ports(fake)):
        yield fake


def test_create_records_the_resource_and_keeps_the_client_token(port):
    made = ops.create(account_id="acc-1", spec=SPEC, client_token="order-7-line-1")
    assert made["client_token"] == "order-7-line-1" and made["status"] == "running"
    again = ops.create(account_id="acc-1", spec=SPEC, client_token="order-7-line-1")
    assert again["provider_id"] == made["provider_id"]
    assert simulator.count_resources(port.state, "lab") == 1
    assert KEY not in json.dumps([made, again])


def test_a_lost_create_response_is_retried_inside_the_operator_and_makes_one_resource(port):
    simulator.add_fault(port.state, "lab", op="create", nth=1, kind="lose_response")
    made = ops.create(account_id="acc-1", spec=SPEC, client_token="tok-lost")
    assert made["status"] == "running" and simulator.count_resources(port.state, "lab") == 1


def test_without_retries_the_timeout_is_the_bpmn_error_and_carries_the_token_for_the_retry(port):
    simulator.add_fault(port.state, "lab", op="create", nth=1, kind="lose_response")
    with pytest.raises(OperatorError) as failed:
        ops.create(account_id="acc-1", spec=SPEC, client_token="tok-2", retries=0)
    assert failed.value.code == "CONNECTOR_TIMEOUT" and failed.value.details["client_token"] == "tok-2"
    assert failed.value.details["retryable"] is True and KEY not in json.dumps(failed.value.details)
    retried = ops.create(account_id="acc-1", spec=SPEC, client_token=failed.value.details["client_token"])
    assert simulator.count_resources(port.state, "lab") == 1 and retried["client_token"] == "tok-2"


def test_a_non_retryable_error_is_not_retried(port):
    simulator.add_fault(port.state, "lab", op="create", nth=1, kind="error", error="ProviderQuotaExceeded")
    with pytest.raises(OperatorError) as failed:
        ops.create(account_id="acc-1", spec=SPEC, client_token="tok-3", retries=3)
    assert failed.value.code == "CONNECTOR_QUOTA_EXCEEDED" and failed.value.details["attempts"] == 1


def test_retries_give_up_after_the_limit(port):
    for n in (1, 2, 3):
        simulator.add_fault(port.state, "lab", op="create", nth=n, kind="error", error="Unreachable")
    with pytest.raises(OperatorError) as failed:
        ops.create(account_id="acc-1", spec=SPEC, client_token="tok-4", retries=2)
    assert failed.value.code == "CONNECTOR_UNREACHABLE" and failed.value.details["attempts"] == 3
    assert ops.create(account_id="acc-1", spec=SPEC, client_token="tok-4", retries=2)["status"] == "running"


def test_every_connector_operator_is_async_with_a_time_limit():
    from tasks.registry import REGISTRY

    found = [REGISTRY.get(name) for name in REGISTRY.names() if name.startswith("connector/")]
    assert len(found) == 9
    assert {(op.mode, op.timeout_s) for op in found} == {("async", ops.JOB_TIMEOUT_S)}


def test_no_retry_is_started_that_could_not_end_within_the_jobs_time_limit(port, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(ops, "monotonic", lambda: now[0])
    monkeypatch.setattr(ops, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    for n in (1, 2, 3):
        simulator.add_fault(port.state, "lab", op="create", nth=n, kind="error", error="Unreachable")

    def slow_create(*args, **kwargs):
        now[0] += 200.0  # each failing provider call takes 200 s of the operator's budget
        return real_create(*args, **kwargs)

    from connectors import registry

    real_connect = registry.connect

    def connect(*args, **kwargs):
        connector = real_connect(*args, **kwargs)
        nonlocal real_create
        real_create = connector.create
        connector.create = slow_create
        return connector

    real_create = None
    monkeypatch.setattr(registry, "connect", connect)
    with pytest.raises(OperatorError) as failed:
        ops.create(account_id="acc-1", spec=SPEC, client_token="tok-7", timeout_s=200, retries=5)
    # 200 s, then 400 s: a third try of 200 s would end past 600 s less the margin for the port
    assert failed.value.code == "CONNECTOR_UNREACHABLE" and failed.value.details["attempts"] == 2


def test_power_operations_resize_and_delete_through_the_operators(port):
    rid = ops.create(account_id="acc-1", spec=SPEC, client_token="tok-5")["resource_id"]
    assert ops.stop(resource_id=rid)["status"] == "stopped"
    with pytest.raises(OperatorError) as conflict:
        ops.reboot(resource_id=rid)
    assert conflict.value.code == "CONNECTOR_CONFLICT"
    ops.resize(resource_id=rid, spec={**SPEC, "vcpu": 8})
    assert ops.start(resource_id=rid)["status"] == "running"
    assert ops.get(resource_id=rid)["status"] == "running"
    assert ops.delete(resource_id=rid)["status"] == str(Status.DELETED)
    assert ops.delete(resource_id=rid)["status"] == "deleted"


def test_delete_of_a_resource_the_provider_forgot_counts_as_deleted(port):
    port.rows["r-ghost"] = {"resource_id": "r-ghost", "account_id": "acc-1", "provider_id": "sim-ghost",
                            "client_token": None, "status": "running", "pool_id": None, "name": "ghost"}
    assert ops.delete(resource_id="r-ghost")["status"] == "deleted"
    with pytest.raises(OperatorError) as missing:
        ops.get(resource_id="r-ghost")
    assert missing.value.code == "CONNECTOR_NOT_FOUND"


@pytest.mark.parametrize(("params", "code"), [
    ({"account_id": "acc-2", "spec": SPEC, "client_token": "t"}, "UNKNOWN_ACCOUNT"),
    ({"account_id": "acc-1", "spec": {"vcpu": 1}, "client_token": "t"}, "CONNECTOR_INVALID_SPEC"),
    ({"account_id": "acc-1", "spec": SPEC, "client_token": "no spaces"}, "CONNECTOR_INVALID_SPEC"),
    ({"account_id": "acc-1", "spec": SPEC, "client_token": "t", "timeout_s": 0}, "INVALID_PARAMS"),
    ({"account_id": "acc-1", "spec": SPEC, "client_token": "t", "retries": 99}, "INVALID_PARAMS"),
    ({"account_id": "acc-1", "spec": SPEC, "client_token": "t", "timeout_s": ops.JOB_TIMEOUT_S}, "INVALID_PARAMS"),
])
def test_bad_parameters_are_bpmn_errors_naming_why(port, params, code):
    with pytest.raises(OperatorError) as failed:
        ops.create(**params)
    assert failed.value.code == code
    assert simulator.count_resources(port.state, "lab") == 0


def test_an_unknown_resource_is_refused(port):
    with pytest.raises(OperatorError) as failed:
        ops.start(resource_id="r-elsewhere")
    assert failed.value.code == "UNKNOWN_RESOURCE"


def test_the_timeout_reaches_the_connector_as_an_option(port, monkeypatch):
    seen: dict[str, Any] = {}
    real = ops.registry.connect

    def spy(*args: Any) -> Any:
        seen["options"] = args[4]
        return real(*args)

    monkeypatch.setattr(ops.registry, "connect", spy)
    ops.create(account_id="acc-1", spec=SPEC, client_token="tok-6", timeout_s=7)
    assert seen["options"]["timeout_s"] == 7.0 and Decimal(str(seen["options"]["timeout_s"])) == 7
