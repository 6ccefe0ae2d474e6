"""The OpenStack connector against the Keystone/Nova/Placement stand-in, over HTTP through openstacksdk."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests

from connectors import errors
from connectors.base import ResourceSpec, Status
from connectors.openstack import TOKEN_KEY, OpenStackConnector
from connectors.registry import connect
from tests.cloud_servers import OPENSTACK_PASSWORD, free_port
from tests.connectors.openstack_standin import MAX_MICROVERSION
from tests.servers import Server

# openstacksdk warns about its own internals on every call; nothing for us to act on.
pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK50Warning",
                                        "ignore::openstack.warnings.RemovedInSDK60Warning")

IMAGE = "6b4d1c3e-1d2b-4a8c-9b5c-2c0d4c1e7f10"  # the stand-in's one image


def _credentials(password: str = OPENSTACK_PASSWORD) -> dict[str, str]:
    return {"username": "aicmp", "password": password, "project_name": "aicmp"}


@pytest.fixture
def openstack(openstack_server: Server) -> Iterator[OpenStackConnector]:
    conn = connect("openstack", openstack_server.url, "RegionOne", _credentials(), {"image": IMAGE, "timeout": 10})
    assert isinstance(conn, OpenStackConnector)
    with conn:
        yield conn
    # Leave the shared stand-in empty for the next test.
    cleanup = connect("openstack", openstack_server.url, "RegionOne", _credentials(), {"timeout": 10})
    for r in cleanup.list_resources():
        if r.status is not Status.DELETING:
            cleanup.delete(r.provider_id)
    deadline = time.monotonic() + 10
    while cleanup.list_resources() and time.monotonic() < deadline:
        time.sleep(0.1)
    cleanup.close()


def _token() -> str:
    return f"tok-{uuid.uuid4().hex}"


def _wait(conn: OpenStackConnector, provider_id: str, status: Status, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (current := conn.get(provider_id).status) is not status:
        assert time.monotonic() < deadline, f"{provider_id} stayed {current}, wanted {status}"
        time.sleep(0.05)


def test_probe_issues_a_token_and_reads_the_compute_microversion(openstack: OpenStackConnector) -> None:
    result = openstack.probe()
    assert result.ok
    assert result.version == "compute {}.{}".format(*MAX_MICROVERSION)
    assert result.latency_ms is not None and result.latency_ms >= 0


def test_capacity_reads_hypervisor_statistics_placement_gpus_flavors_and_quota(openstack: OpenStackConnector) -> None:
    (region,) = openstack.capacity()
    assert (region.scope, region.kind) == ("RegionOne", "region")
    assert region.vcpu.total == 160 and region.vcpu.allocated == 0
    assert region.memory_gib.total == Decimal(1310720) / 1024
    assert region.disk_gib.total == 6000
    (a100,) = region.accelerators
    assert (a100.model, a100.amounts.total, a100.amounts.allocated) == ("A100", 8, 0)
    by_name = {t.name: t for t in region.instance_types}
    assert by_name["g1.a100x2"].gpus_by_model == {"A100": 2}
    assert (by_name["m1.small"].vcpu, by_name["m1.small"].memory_gib) == (1, Decimal(2))
    assert region.details["quota"]["cores"] == {"limit": 40, "in_use": 0}


def test_a_create_retried_with_the_same_client_token_makes_one_server(openstack: OpenStackConnector) -> None:
    token = _token()
    spec = ResourceSpec(name="web-1", vcpu=1, memory_gib=Decimal(2), tags={"owner": "t1"})
    first = openstack.create(spec, token)
    again = openstack.create(spec, token)
    assert again.provider_id == first.provider_id
    assert first.client_token == token and first.spec.flavor == "m1.small"
    assert first.status in (Status.PENDING, Status.RUNNING)
    carrying = [r for r in openstack.list_resources() if r.client_token == token]
    assert [r.provider_id for r in carrying] == [first.provider_id]
    assert carrying[0].spec.tags == {"owner": "t1"}  # the token is not shown as a user tag


def test_the_client_token_travels_as_server_metadata(openstack: OpenStackConnector) -> None:
    token = _token()
    created = openstack.create(ResourceSpec(name="meta", flavor="m1.small"), token)
    nova = openstack._connection().compute.get_server(created.provider_id)
    assert nova.metadata[TOKEN_KEY] == token


def test_the_same_token_for_a_different_server_is_a_conflict(openstack: OpenStackConnector) -> None:
    token = _token()
    openstack.create(ResourceSpec(name="a", flavor="m1.small"), token)
    with pytest.raises(errors.Conflict):
        openstack.create(ResourceSpec(name="b", flavor="m1.small"), token)
    assert len(openstack.list_resources()) == 1


def test_power_operations_stop_start_and_reboot(openstack: OpenStackConnector) -> None:
    server = openstack.create(ResourceSpec(name="power", flavor="m1.small"), _token())
    _wait(openstack, server.provider_id, Status.RUNNING)
    assert openstack.start(server.provider_id).status is Status.RUNNING  # already running: unchanged
    assert openstack.stop(server.provider_id).status in (Status.STOPPING, Status.STOPPED)
    _wait(openstack, server.provider_id, Status.STOPPED)
    assert openstack.stop(server.provider_id).status is Status.STOPPED  # idempotent
    with pytest.raises(errors.Conflict):
        openstack.reboot(server.provider_id)  # Nova refuses a soft reboot of a stopped server
    assert openstack.start(server.provider_id).status in (Status.PENDING, Status.RUNNING)
    _wait(openstack, server.provider_id, Status.RUNNING)
    assert openstack.reboot(server.provider_id).status is Status.REBOOTING
    _wait(openstack, server.provider_id, Status.RUNNING)


def test_resize_picks_a_fitting_flavor_and_confirms_it(openstack: OpenStackConnector) -> None:
    server = openstack.create(ResourceSpec(name="grow", vcpu=1, memory_gib=Decimal(2)), _token())
    _wait(openstack, server.provider_id, Status.RUNNING)
    resized = openstack.resize(server.provider_id, ResourceSpec(name="grow", vcpu=3, memory_gib=Decimal(6)))
    assert resized.spec.flavor == "m1.large" and resized.spec.vcpu == 4
    assert resized.details["vm_state"] == "active" and resized.status is Status.RUNNING
    assert openstack.resize(server.provider_id, ResourceSpec(name="grow", flavor="m1.large")).spec.flavor == "m1.large"


def test_delete_is_idempotent_and_the_server_goes_away(openstack: OpenStackConnector) -> None:
    server = openstack.create(ResourceSpec(name="bye", flavor="m1.small"), _token())
    _wait(openstack, server.provider_id, Status.RUNNING)
    assert openstack.delete(server.provider_id).status is Status.DELETING
    assert openstack.delete(server.provider_id).status is Status.DELETING
    deadline = time.monotonic() + 10
    while True:
        try:
            openstack.get(server.provider_id)
        except errors.NotFound:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(errors.NotFound):
        openstack.delete(server.provider_id)


def test_capacity_sync_sees_allocated_vcpus_and_gpus_after_a_gpu_server(openstack: OpenStackConnector) -> None:
    server = openstack.create(ResourceSpec(name="train", gpus_by_model={"A100": 2}), _token())
    assert server.spec.flavor == "g1.a100x2" and server.spec.gpus_by_model == {"A100": 2}
    (region,) = openstack.capacity()
    assert region.vcpu.allocated == 16
    assert region.memory_gib.allocated == Decimal(131072 + 1024) / 1024
    assert region.dimensions()["gpus:A100"].allocated == 2
    assert region.dimensions()["gpus:A100"].free == 6
    assert region.details["quota"]["instances"] == {"limit": 10, "in_use": 1}


def test_the_providers_quota_refusal_is_quota_exceeded(openstack: OpenStackConnector) -> None:
    openstack.create(ResourceSpec(name="g1", flavor="g1.a100x2"), _token())
    openstack.create(ResourceSpec(name="g2", flavor="g1.a100x2"), _token())
    with pytest.raises(errors.ProviderQuotaExceeded, match="cores"):
        openstack.create(ResourceSpec(name="g3", flavor="g1.a100x2"), _token())  # 48 > 40 cores


def test_an_unknown_flavor_or_missing_size_is_an_invalid_spec(openstack: OpenStackConnector) -> None:
    with pytest.raises(errors.InvalidSpec, match="flavor"):
        openstack.create(ResourceSpec(name="x", flavor="m9.huge"), _token())
    with pytest.raises(errors.InvalidSpec, match="no flavor has"):
        openstack.create(ResourceSpec(name="x", vcpu=512), _token())


def test_server_metrics_come_from_nova_diagnostics(openstack: OpenStackConnector) -> None:
    server = openstack.create(ResourceSpec(name="watch", flavor="m1.medium"), _token())
    _wait(openstack, server.provider_id, Status.RUNNING)
    metrics = {m.name: m for m in openstack.metrics(server.provider_id)}
    assert metrics["cpu_utilisation"].value == 15 and metrics["cpu_utilisation"].unit == "percent"
    assert metrics["memory_used"].value == 1
    assert {m.name for m in openstack.metrics()} >= {"vcpu_allocated", "running_vms", "quota_in_use_cores"}


def test_not_found_for_an_unknown_server(openstack: OpenStackConnector) -> None:
    with pytest.raises(errors.NotFound):
        openstack.get(str(uuid.uuid4()))


def test_bad_credentials_are_unauthorised_and_never_echo_the_password(openstack_server: Server) -> None:
    wrong = "not-the-password-4711"
    conn = connect("openstack", openstack_server.url, "RegionOne", _credentials(wrong))
    with conn, pytest.raises(errors.Unauthorised) as caught:
        conn.probe()
    assert wrong not in str(caught.value) and wrong not in repr(caught.value.as_dict())
    assert wrong not in repr(conn)


def test_an_unreachable_endpoint_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}/identity/v3"  # nothing listens there
    conn = connect("openstack", url, "RegionOne", _credentials(), {"timeout": 5})
    with conn, pytest.raises(errors.Unreachable) as caught:
        conn.list_resources()
    assert caught.value.retryable and caught.value.code == "CONNECTOR_UNREACHABLE"


def test_a_provider_that_never_answers_is_a_timeout(black_hole: str) -> None:
    conn = connect("openstack", f"http://{black_hole}/identity/v3", "RegionOne", _credentials(), {"timeout": 1})
    began = time.monotonic()
    with conn, pytest.raises(errors.Timeout) as caught:
        conn.probe()
    assert caught.value.retryable and time.monotonic() - began < 10


# The stand-in itself: the published API's shapes the connector relies on.


def test_standin_issues_tokens_as_keystone_does(openstack_server: Server) -> None:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "aicmp", "domain": {"id": "default"}, "password": OPENSTACK_PASSWORD}}},
        "scope": {"project": {"name": "aicmp", "domain": {"id": "default"}}}}}
    resp = requests.post(f"{openstack_server.url}/auth/tokens", json=body, timeout=5)
    assert resp.status_code == 201 and resp.headers["X-Subject-Token"]
    token = resp.json()["token"]
    assert token["methods"] == ["password"] and token["project"]["name"] == "aicmp"
    assert {s["type"] for s in token["catalog"]} == {"identity", "compute", "placement"}
    compute = next(s for s in token["catalog"] if s["type"] == "compute")
    assert {e["interface"] for e in compute["endpoints"]} == {"public", "internal", "admin"}


# Every field of a server at 2.96 in Nova's API reference sample (doc/api_samples/servers/v2.96/
# server-get-resp.json), plus the ones Nova's default policy shows an admin (2.75 sample).
SERVER_FIELDS_2_96 = {
    "accessIPv4", "accessIPv6", "addresses", "created", "description", "locked", "locked_reason", "flavor", "hostId",
    "id", "image", "key_name", "links", "metadata", "name", "config_drive", "OS-DCF:diskConfig",
    "OS-EXT-AZ:availability_zone", "OS-EXT-SRV-ATTR:hostname", "OS-EXT-STS:power_state", "OS-EXT-STS:task_state",
    "OS-EXT-STS:vm_state", "os-extended-volumes:volumes_attached", "OS-SRV-USG:launched_at",
    "OS-SRV-USG:terminated_at", "pinned_availability_zone", "progress", "security_groups", "server_groups", "status",
    "tags", "tenant_id", "trusted_image_certificates", "updated", "user_id"}
ADMIN_SERVER_FIELDS = {
    "OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname", "OS-EXT-SRV-ATTR:instance_name",
    "OS-EXT-SRV-ATTR:kernel_id", "OS-EXT-SRV-ATTR:launch_index", "OS-EXT-SRV-ATTR:ramdisk_id",
    "OS-EXT-SRV-ATTR:reservation_id", "OS-EXT-SRV-ATTR:root_device_name", "OS-EXT-SRV-ATTR:user_data", "host_status"}
FLAVOR_IN_SERVER_FIELDS = {"disk", "ephemeral", "extra_specs", "original_name", "ram", "swap", "vcpus"}
HYPERVISOR_STATISTICS_FIELDS = {"count", "current_workload", "disk_available_least", "free_disk_gb", "free_ram_mb",
                                "local_gb", "local_gb_used", "memory_mb", "memory_mb_used", "running_vms", "vcpus",
                                "vcpus_used"}


def _standin_token(openstack_server: Server) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "aicmp", "domain": {"id": "default"}, "password": OPENSTACK_PASSWORD}}},
        "scope": {"project": {"name": "aicmp", "domain": {"id": "default"}}}}}
    return requests.post(f"{openstack_server.url}/auth/tokens", json=body, timeout=5).headers["X-Subject-Token"]


def test_standin_servers_and_statistics_carry_the_api_references_fields(openstack: OpenStackConnector,
                                                                          openstack_server: Server) -> None:
    server = openstack.create(ResourceSpec(name="fields", flavor="m1.small"), _token())
    _wait(openstack, server.provider_id, Status.RUNNING)
    base = openstack_server.url.rsplit("/identity", 1)[0]
    headers = {"X-Auth-Token": _standin_token(openstack_server), "OpenStack-API-Version": "compute 2.96"}
    shown = requests.get(f"{base}/compute/v2.1/servers/{server.provider_id}", headers=headers, timeout=5).json()
    assert set(shown["server"]) == SERVER_FIELDS_2_96 | ADMIN_SERVER_FIELDS
    assert set(shown["server"]["flavor"]) == FLAVOR_IN_SERVER_FIELDS
    headers["OpenStack-API-Version"] = "compute 2.53"
    stats = requests.get(f"{base}/compute/v2.1/os-hypervisors/statistics", headers=headers, timeout=5).json()
    assert set(stats["hypervisor_statistics"]) == HYPERVISOR_STATISTICS_FIELDS


def test_standin_negotiates_nova_microversions(openstack_server: Server) -> None:
    base = openstack_server.url.rsplit("/identity", 1)[0]
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "aicmp", "domain": {"id": "default"}, "password": OPENSTACK_PASSWORD}}},
        "scope": {"project": {"name": "aicmp", "domain": {"id": "default"}}}}}
    token = requests.post(f"{openstack_server.url}/auth/tokens", json=body, timeout=5).headers["X-Subject-Token"]
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.87"}
    resp = requests.get(f"{base}/compute/v2.1/os-hypervisors/statistics", headers=headers, timeout=5)
    assert resp.status_code == 200 and resp.headers["OpenStack-API-Version"] == "compute 2.87"
    assert resp.headers["X-OpenStack-Nova-API-Version"] == "2.87"
    headers["OpenStack-API-Version"] = "compute 2.88"
    assert requests.get(f"{base}/compute/v2.1/os-hypervisors/statistics", headers=headers, timeout=5).status_code == 404
    headers["OpenStack-API-Version"] = "compute 2.97"
    assert requests.get(f"{base}/compute/v2.1/flavors", headers=headers, timeout=5).status_code == 406
    assert requests.get(f"{base}/compute/v2.1/flavors", timeout=5).status_code == 401
