"""The simulator connector: persisted, deterministic, idempotent by client token, with injected
failures (the Nth call fails, times out, or loses its response after taking effect) and latency."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest

from connectors import errors, registry, simulator
from connectors.base import ResourceSpec, Status
from connectors.simulator import Zone

KEY = "sim-key-0123456789"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "sim.sqlite3"
    simulator.configure(path, "lab", api_key=KEY, zones={
        "zone-a": Zone(vcpu=32, memory_gib=128, disk_gib=1000, gpus={"H100": 2}),
        "zone-b": Zone(vcpu=8, memory_gib=16, disk_gib=100)})
    return path


def connect(state: Path, key: str = KEY, cloud: str = "lab"):
    return registry.connect("simulator", f"sim://{cloud}", None, {"api_key": key}, {"state_path": str(state)})


def small(name: str = "vm", **kw) -> ResourceSpec:
    return ResourceSpec(name=name, vcpu=kw.pop("vcpu", 2), memory_gib=kw.pop("memory_gib", Decimal(4)), **kw)


def test_a_retried_create_with_the_same_token_returns_the_one_resource(state):
    first = connect(state).create(small(), "tok-1")
    again = connect(state).create(small(), "tok-1")
    assert again.provider_id == first.provider_id and again.client_token == "tok-1"
    assert simulator.count_resources(state, "lab") == 1
    with pytest.raises(errors.Conflict):
        connect(state).create(small(vcpu=4), "tok-1")


def test_a_create_whose_response_was_lost_made_one_resource_that_the_retry_returns(state):
    simulator.add_fault(state, "lab", op="create", nth=1, kind="lose_response")
    with pytest.raises(errors.Timeout) as lost:
        connect(state).create(small(), "tok-lost")
    assert lost.value.retryable and lost.value.code == "CONNECTOR_TIMEOUT"
    assert simulator.count_resources(state, "lab", client_token="tok-lost") == 1
    retried = connect(state).create(small(), "tok-lost")
    assert retried.status == Status.RUNNING and simulator.count_resources(state, "lab") == 1


def test_the_nth_call_fails_as_injected_and_the_others_succeed(state):
    simulator.add_fault(state, "lab", op="get", nth=2, kind="error", error="ProviderQuotaExceeded")
    simulator.add_fault(state, "lab", op="create", nth=2, kind="timeout")
    made = connect(state).create(small(), "a")
    connect(state).get(made.provider_id)
    with pytest.raises(errors.ProviderQuotaExceeded):
        connect(state).get(made.provider_id)
    connect(state).get(made.provider_id)
    with pytest.raises(errors.Timeout):
        connect(state).create(small("b"), "b")
    assert simulator.count_resources(state, "lab", client_token="b") == 0  # a timeout before it took effect
    connect(state).create(small("b"), "b")
    assert simulator.count_resources(state, "lab") == 2


def test_concurrent_creates_with_one_token_make_one_resource(state):
    barrier, ids, failures = threading.Barrier(6), [], []

    def create() -> None:
        barrier.wait()
        try:
            ids.append(connect(state).create(small(), "race").provider_id)
        except Exception as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and len(set(ids)) == 1 and simulator.count_resources(state, "lab") == 1


def test_state_persists_and_ids_are_deterministic(tmp_path, state):
    made = [connect(state).create(small(f"vm{i}"), f"t{i}").provider_id for i in range(3)]
    other = tmp_path / "other.sqlite3"
    simulator.configure(other, "lab", api_key=KEY)
    assert [connect(other).create(small(f"vm{i}"), f"t{i}").provider_id for i in range(3)] == made
    assert [r.provider_id for r in connect(state).list_resources()] == sorted(made)


def test_power_operations_resize_and_delete(state):
    c = connect(state)
    vm = c.create(small(), "p")
    assert c.start(vm.provider_id).status == Status.RUNNING  # already running: unchanged
    assert c.reboot(vm.provider_id).status == Status.RUNNING
    with pytest.raises(errors.Conflict):
        c.resize(vm.provider_id, small(vcpu=8))
    assert c.stop(vm.provider_id).status == Status.STOPPED
    assert c.stop(vm.provider_id).status == Status.STOPPED
    with pytest.raises(errors.Conflict):
        c.reboot(vm.provider_id)
    assert c.resize(vm.provider_id, small(vcpu=8, memory_gib=Decimal(16))).spec.vcpu == 8
    assert c.start(vm.provider_id).status == Status.RUNNING
    assert c.delete(vm.provider_id).status == Status.DELETED
    assert c.delete(vm.provider_id).status == Status.DELETED
    assert c.get(vm.provider_id).status == Status.DELETED and c.list_resources() == []
    with pytest.raises(errors.Conflict):
        c.start(vm.provider_id)
    with pytest.raises(errors.NotFound):
        c.get("sim-nothing")


def test_capacity_counts_allocations_and_use_and_refuses_what_does_not_fit(state):
    c = connect(state)
    gpu = c.create(ResourceSpec(name="g", vcpu=16, memory_gib=Decimal(64), gpus_by_model={"H100": 2}), "g")
    c.stop(gpu.provider_id)
    zone_a = next(cap for cap in c.capacity() if cap.scope == "zone-a")
    dims = zone_a.dimensions()
    assert dims["vcpu"].total == 32 and dims["vcpu"].allocated == 16 and dims["vcpu"].used == 0
    assert dims["gpus:H100"].allocated == 2 and dims["gpus"].free == 0
    with pytest.raises(errors.ProviderQuotaExceeded) as short:
        c.create(ResourceSpec(name="h", vcpu=1, memory_gib=Decimal(1), gpus_by_model={"H100": 1}), "h")
    assert short.value.details["dimensions"] == ["gpus:H100"]
    with pytest.raises(errors.InvalidSpec):
        c.create(small(placement="zone-z"), "z")


def test_bad_key_unknown_cloud_and_latency(state):
    with pytest.raises(errors.Unauthorised) as bad:
        connect(state, key="wrong-key-value").probe()
    assert "wrong-key-value" not in str(bad.value)
    with pytest.raises(errors.Unreachable):
        connect(state, cloud="nowhere").probe()
    simulator.set_latency(state, "lab", 60)
    assert connect(state).probe().latency_ms >= 60
    impatient = registry.connect("simulator", "sim://lab", None, {"api_key": KEY},
                                 {"state_path": str(state), "timeout_s": 0.02})
    with pytest.raises(errors.Timeout):
        impatient.create(small(), "slow")
    assert simulator.count_resources(state, "lab") == 0


def test_metrics_are_deterministic_for_a_call_count(state):
    c = connect(state)
    vm = c.create(small(gpus_by_model={"H100": 1}), "m")
    first = c.metrics(vm.provider_id)
    assert {m.name for m in first} == {"cpu_utilisation", "gpu_utilisation"}
    assert all(Decimal(0) <= m.value <= 100 and m.at.tzinfo is not None for m in first)
    other = state.with_name("again.sqlite3")
    simulator.configure(other, "lab", api_key=KEY, zones={
        "zone-a": Zone(vcpu=32, memory_gib=128, disk_gib=1000, gpus={"H100": 2}),
        "zone-b": Zone(vcpu=8, memory_gib=16, disk_gib=100)})
    c2 = connect(other)
    vm2 = c2.create(small(gpus_by_model={"H100": 1}), "m")
    assert [(m.name, m.value) for m in c2.metrics(vm2.provider_id)] == [(m.name, m.value) for m in first]
