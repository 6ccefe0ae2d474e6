"""Done when: an operator registers an account of each provider type over the API, syncs its pools
and sees capacity and utilisation, each against its real server (tests/cloud_servers.py: the
OpenStack stand-in, govmomi's vCenter simulator, kube-apiserver, moto; the simulator; NVML on this
host, which has no driver and says so). A server that is not installed skips its case (fails under
AICMP_REQUIRE_SERVERS=1); no response carries a secret."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import cloud_servers
from tests.api.conftest import login
from tests.servers import Server, ServerNotInstalled

V1 = "/api/v1"


def _server(start: Callable[[Path], Server], tmp: Path) -> Iterator[Server]:
    try:
        server = start(tmp)
    except ServerNotInstalled as exc:
        if os.environ.get("AICMP_REQUIRE_SERVERS", "") not in ("", "0"):
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Started on first use, stopped at the end of the module."""
    started: dict[str, Any] = {}
    gens: list[Iterator[Server]] = []

    def get(name: str) -> Server:
        if name not in started:
            start = {"aws": cloud_servers.start_moto, "openstack": cloud_servers.start_openstack,
                     "vsphere": cloud_servers.start_vcsim, "kubernetes": cloud_servers.start_kube_apiserver}[name]
            gen = _server(start, tmp_path_factory.mktemp(name))
            started[name] = next(gen)
            gens.append(gen)
        return started[name]

    yield {"get": get}
    for gen in gens:
        next(gen, None)


def account_body(provider: str, servers: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(the registration body, the secret that must never come back)."""
    if provider == "simulator":
        return {"endpoint": "sim://lab", "credentials": {"api_key": "sim-secret-0123456789"}}, "sim-secret-0123456789"
    if provider == "aws":
        return {"endpoint": servers["get"]("aws").url, "region": "us-east-1", "options": {"vcpu_limit": 64},
                "credentials": {"access_key_id": "AKIAX", "secret_access_key": "aws-secret-0123456789"}}, \
            "aws-secret-0123456789"
    if provider == "openstack":
        from tests.cloud_servers import OPENSTACK_PASSWORD

        return {"endpoint": servers["get"]("openstack").url, "region": "RegionOne",
                "credentials": {"username": "aicmp", "password": OPENSTACK_PASSWORD, "project_name": "aicmp"}}, \
            OPENSTACK_PASSWORD
    if provider == "vsphere":
        return {"endpoint": servers["get"]("vsphere").url, "options": {"verify_tls": False},
                "credentials": {"username": cloud_servers.VCSIM_USER, "password": cloud_servers.VCSIM_PASSWORD}}, \
            cloud_servers.VCSIM_PASSWORD
    if provider == "kubernetes":
        return {"endpoint": servers["get"]("kubernetes").url, "region": "gpu-cluster",
                "options": {"verify_tls": False}, "credentials": {"token": cloud_servers.KUBE_TOKEN}}, \
            cloud_servers.KUBE_TOKEN
    raise AssertionError(provider)


@pytest.mark.parametrize("provider", ["simulator", "aws", "openstack", "vsphere", "kubernetes"])
def test_an_operator_registers_each_provider_type_and_sees_its_capacity(client, servers, provider):
    admin = login(client, "admin")
    body, secret = account_body(provider, servers)
    made = client.post(f"{V1}/cloud-accounts", headers=admin, json={"name": provider, "provider_type": provider,
                                                                    **body})
    assert made.status_code == 201, made.get_json()
    account = made.get_json()
    probed = client.post(f"{V1}/cloud-accounts/{account['id']}/probe", headers=admin)
    assert probed.get_json()["health"] == "up", probed.get_json()
    synced = client.post(f"{V1}/cloud-accounts/{account['id']}/sync", headers=admin)
    assert synced.status_code == 200, synced.get_json()
    pools = client.get(f"{V1}/resource-pools?account_id={account['id']}", headers=admin).get_json()["items"]
    assert pools and all(p["provider_type"] == provider for p in pools)
    vcpu = [d for p in pools for d in p["dimensions"] if d["dimension"] == "vcpu"]
    assert vcpu and all("utilisation" in d and "free" in d for d in vcpu)
    for resp in (made, probed, synced):
        assert secret not in resp.get_data(as_text=True)


def test_nvml_is_a_platform_account_that_reports_a_host_without_a_driver(client):
    admin = login(client, "admin")
    made = client.post(f"{V1}/cloud-accounts", headers=admin,
                       json={"name": "gpu-host", "provider_type": "nvml", "credentials": {}})
    assert made.status_code == 201, made.get_json()
    probed = client.post(f"{V1}/cloud-accounts/{made.get_json()['id']}/probe", headers=admin).get_json()
    if probed["health"] == "up":  # a host with a driver
        return
    assert probed["health"] == "degraded" and "driver" in probed["health_message"]
    synced = client.post(f"{V1}/cloud-accounts/{made.get_json()['id']}/sync", headers=admin)
    assert synced.status_code == 502 and "driver" in synced.get_json()["message"]
    tenant = client.post(f"{V1}/cloud-accounts", headers=login(client, "alpha-admin"),
                         json={"name": "my-host", "provider_type": "nvml", "credentials": {}})
    assert tenant.status_code == 422 and tenant.get_json()["errors"][0]["field"] == "provider_type"
