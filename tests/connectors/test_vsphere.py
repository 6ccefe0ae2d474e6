"""The vSphere connector against govmomi's vCenter simulator (vcsim), over HTTPS through pyvmomi."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from connectors import errors
from connectors.base import ResourceSpec, Status
from connectors.registry import connect
from connectors.vsphere import TOKEN_KEY, VSphereConnector
from tests.cloud_servers import VCSIM_CLUSTER_GPUS, VCSIM_PASSWORD, VCSIM_USER, free_port
from tests.servers import Server

TEMPLATE = "aicmp-template"


def _connect(url: str, password: str = VCSIM_PASSWORD, **options: object) -> VSphereConnector:
    conn = connect("vsphere", url, None, {"username": VCSIM_USER, "password": password},
                   {"verify_tls": False, "timeout": 30, "template": TEMPLATE, **options})
    assert isinstance(conn, VSphereConnector)
    return conn


@pytest.fixture(scope="module")
def template(vcsim_server: Server) -> str:
    """A template made the way an operator makes one: power a VM off, rename it, mark it as template."""
    with _connect(vcsim_server.url) as conn:
        from pyVmomi import vim

        vm = conn._by_name(vim.VirtualMachine, "DC0_H0_VM1")
        conn._wait(vm.PowerOffVM_Task(), "power off")
        conn._wait(vm.Rename_Task(TEMPLATE), "rename")
        vm.MarkAsTemplate()
    return TEMPLATE


@pytest.fixture
def vsphere(vcsim_server: Server, template: str) -> Iterator[VSphereConnector]:
    with _connect(vcsim_server.url) as conn:
        before = {r.provider_id for r in conn.list_resources()}
        yield conn
        for r in conn.list_resources():
            if r.provider_id not in before:
                conn.delete(r.provider_id)


def _token() -> str:
    return f"tok-{uuid.uuid4().hex}"


def test_probe_logs_in_and_reads_the_version(vsphere: VSphereConnector) -> None:
    result = vsphere.probe()
    assert result.ok and result.version == "6.5"
    assert "vCenter" in result.message


def test_capacity_has_one_scope_per_cluster_and_standalone_host(vsphere: VSphereConnector) -> None:
    scopes = {c.scope: c for c in vsphere.capacity()}
    assert set(scopes) == {"DC0_C0", "DC0_H0"}
    cluster, host = scopes["DC0_C0"], scopes["DC0_H0"]
    assert (cluster.kind, host.kind) == ("cluster", "host")
    assert cluster.details["hosts"] == ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"]
    assert cluster.vcpu.total == 6 and host.vcpu.total == 2  # logical threads of 3 and 1 simulated hosts
    assert cluster.vcpu.allocated == 2  # DC0_C0_RP0_VM0 and _VM1, 1 vCPU each
    assert cluster.memory_gib.total > 11 and cluster.memory_gib.allocated == Decimal("0.0625")  # 2 x 32 MiB
    assert cluster.disk_gib.total > 0 and cluster.disk_gib.allocated <= cluster.disk_gib.total
    (a100,) = cluster.accelerators  # the NVIDIA PCI devices deploy/vcsim/main.go gives clustered hosts
    assert (a100.model, a100.amounts.total, a100.amounts.allocated) == ("A100", 3 * VCSIM_CLUSTER_GPUS, 0)
    assert host.accelerators == ()  # the standalone host has none


def test_a_create_retried_with_the_same_client_token_makes_one_vm(vsphere: VSphereConnector) -> None:
    token = _token()
    spec = ResourceSpec(name="vm-one", vcpu=2, memory_gib=Decimal(1), placement="DC0_C0", tags={"owner": "t1"})
    first = vsphere.create(spec, token)
    again = vsphere.create(spec, token)
    assert again.provider_id == first.provider_id
    assert first.client_token == token and first.status is Status.RUNNING
    assert (first.spec.vcpu, first.spec.memory_gib, first.scope) == (2, Decimal(1), "DC0_C0")
    assert first.spec.tags == {"owner": "t1"}
    assert [r.provider_id for r in vsphere.list_resources() if r.client_token == token] == [first.provider_id]


def test_the_client_token_is_in_extra_config_and_the_annotation(vsphere: VSphereConnector) -> None:
    token = _token()
    created = vsphere.create(ResourceSpec(name="vm-token"), token)
    vm = vsphere._vm(created.provider_id)
    assert {o.key: o.value for o in vm.config.extraConfig}[TOKEN_KEY] == token
    assert token in vm.config.annotation


def test_the_same_token_for_another_name_is_a_conflict(vsphere: VSphereConnector) -> None:
    token = _token()
    vsphere.create(ResourceSpec(name="vm-a"), token)
    with pytest.raises(errors.Conflict):
        vsphere.create(ResourceSpec(name="vm-b"), token)


def test_templates_are_not_resources(vsphere: VSphereConnector) -> None:
    names = {r.name for r in vsphere.list_resources()}
    assert TEMPLATE not in names and "DC0_H0_VM0" in names


def test_power_operations_and_their_idempotence(vsphere: VSphereConnector) -> None:
    vm = vsphere.create(ResourceSpec(name="vm-power"), _token())
    assert vsphere.start(vm.provider_id).status is Status.RUNNING  # already on: unchanged
    assert vsphere.stop(vm.provider_id).status is Status.STOPPED
    assert vsphere.stop(vm.provider_id).status is Status.STOPPED
    with pytest.raises(errors.Conflict):
        vsphere.reboot(vm.provider_id)
    assert vsphere.start(vm.provider_id).status is Status.RUNNING
    assert vsphere.reboot(vm.provider_id).status is Status.RUNNING


def test_resize_needs_a_stopped_vm_without_hot_add_and_grows_the_disk(vsphere: VSphereConnector) -> None:
    vm = vsphere.create(ResourceSpec(name="vm-resize", vcpu=1, memory_gib=Decimal(1)), _token())
    bigger = ResourceSpec(name="vm-resize", vcpu=4, memory_gib=Decimal(2), disk_gib=vm.spec.disk_gib + 10)
    with pytest.raises(errors.Conflict, match="stop it first"):
        vsphere.resize(vm.provider_id, bigger)
    vsphere.stop(vm.provider_id)
    resized = vsphere.resize(vm.provider_id, bigger)
    assert (resized.spec.vcpu, resized.spec.memory_gib, resized.spec.disk_gib) == (4, Decimal(2), bigger.disk_gib)
    with pytest.raises(errors.InvalidSpec, match="disks only grow"):
        vsphere.resize(vm.provider_id, ResourceSpec(name="vm-resize", disk_gib=Decimal(1) / 1024))


def test_delete_destroys_the_vm(vsphere: VSphereConnector) -> None:
    vm = vsphere.create(ResourceSpec(name="vm-bye"), _token())
    assert vsphere.delete(vm.provider_id).status is Status.DELETED
    with pytest.raises(errors.NotFound):
        vsphere.get(vm.provider_id)
    with pytest.raises(errors.NotFound):
        vsphere.delete(vm.provider_id)


def test_capacity_sync_counts_a_new_vm_as_allocated(vsphere: VSphereConnector) -> None:
    before = {c.scope: c for c in vsphere.capacity()}["DC0_C0"]
    vsphere.create(ResourceSpec(name="vm-cap", vcpu=3, memory_gib=Decimal(2), placement="DC0_C0"), _token())
    after = {c.scope: c for c in vsphere.capacity()}["DC0_C0"]
    assert after.vcpu.allocated - before.vcpu.allocated == 3
    assert after.memory_gib.allocated - before.memory_gib.allocated == 2
    assert after.details["virtual_machines"] == before.details["virtual_machines"] + 1


def test_gpus_are_passed_through_from_one_host_and_counted_as_allocated(vsphere: VSphereConnector) -> None:
    before = {c.scope: c for c in vsphere.capacity()}["DC0_C0"].dimensions()["gpus:A100"]
    vm = vsphere.create(ResourceSpec(name="vm-gpu", vcpu=8, memory_gib=Decimal(4), gpus_by_model={"A100": 2},
                                     placement="DC0_C0"), _token())
    assert vm.spec.gpus_by_model == {"A100": 2} and vm.scope == "DC0_C0" and vm.status is Status.RUNNING
    after = {c.scope: c for c in vsphere.capacity()}["DC0_C0"].dimensions()["gpus:A100"]
    assert after.allocated - before.allocated == 2
    with pytest.raises(errors.ProviderQuotaExceeded, match="free A100"):
        vsphere.create(ResourceSpec(name="vm-gpu-big", gpus_by_model={"A100": VCSIM_CLUSTER_GPUS + 1},
                                    placement="DC0_C0"), _token())


def test_an_unknown_template_or_cluster_is_an_invalid_spec(vsphere: VSphereConnector) -> None:
    with pytest.raises(errors.InvalidSpec, match="no-such-template"):
        vsphere.create(ResourceSpec(name="x", image="no-such-template"), _token())
    with pytest.raises(errors.InvalidSpec, match="no-such-cluster"):
        vsphere.create(ResourceSpec(name="x", placement="no-such-cluster"), _token())


def test_host_metrics_come_from_quick_stats(vsphere: VSphereConnector) -> None:
    metrics = vsphere.metrics()
    hosts = {m.labels["host"] for m in metrics}
    assert hosts == {"DC0_H0", "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"}
    assert all(m.unit in ("MHz", "MiB") and m.value >= 0 for m in metrics)


def test_bad_credentials_are_unauthorised_and_never_echo_the_password(vcsim_server: Server) -> None:
    wrong = "not-the-password-4711"
    with _connect(vcsim_server.url, wrong) as conn, pytest.raises(errors.Unauthorised) as caught:
        conn.probe()
    assert wrong not in str(caught.value) and wrong not in repr(caught.value.as_dict())


def test_an_unreachable_endpoint_is_unreachable() -> None:
    with _connect(f"https://127.0.0.1:{free_port()}/sdk") as conn, pytest.raises(errors.Unreachable) as caught:
        conn.probe()
    assert caught.value.retryable


def test_a_vcenter_that_never_answers_is_a_timeout(black_hole: str) -> None:
    began = time.monotonic()
    with _connect(f"https://{black_hole}/sdk", http_timeout=1) as conn, pytest.raises(errors.Timeout) as caught:
        conn.probe()
    assert caught.value.retryable and time.monotonic() - began < 10


def test_a_self_signed_certificate_is_refused_unless_verification_is_off(vcsim_server: Server) -> None:
    with _connect(vcsim_server.url, verify_tls=True) as conn, pytest.raises(errors.Unreachable, match="SSL|certif"):
        conn.probe()
