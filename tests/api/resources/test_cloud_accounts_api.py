"""Cloud accounts, pools and resources over HTTP against the real simulator: an operator registers
an account, syncs it and sees capacity, utilisation and cost; probes record health and open and
resolve alerts; secrets never leave (responses, logs, audit rows); tenants see only their own."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from ipaddress import ip_network

import pytest
from sqlalchemy import select

from connectors import registry, simulator
from connectors.base import ResourceSpec
from engine.domains.resources.accounts import SIMULATOR_STATE
from engine.models import AuditEntry
from tests.api.conftest import login

V1 = "/api/v1"
SECRET = "s3cr3t-api-key-that-must-never-leak"
OTHER_SECRET = "another-s3cr3t-value-never-shown"


def register(client, headers, name="lab", cloud="lab", secret=SECRET, **extra):
    body = {"name": name, "provider_type": "simulator", "endpoint": f"sim://{cloud}",
            "credentials": {"api_key": secret}, **extra}
    return client.post(f"{V1}/cloud-accounts", headers=headers, json=body)


def sim(api_engine, cloud="lab", secret=SECRET):
    path = api_engine.settings.var_dir / SIMULATOR_STATE
    return registry.connect("simulator", f"sim://{cloud}", None, {"api_key": secret}, {"state_path": str(path)})


def audit_text(api_engine) -> str:
    with api_engine.db.read() as s:
        return json.dumps([[a.action, a.detail] for a in s.scalars(select(AuditEntry))], default=str)


@pytest.fixture
def admin(client):
    return login(client, "admin")


def test_an_operator_registers_an_account_syncs_it_and_sees_capacity_utilisation_and_cost(client, api_engine, admin,
                                                                                           caplog):
    operator_flow(client, api_engine, admin, caplog)


@pytest.mark.postgres
def test_the_operator_flow_on_postgresql(pg_client, pg_api_engine, caplog):
    operator_flow(pg_client, pg_api_engine, login(pg_client, "admin"), caplog)


def operator_flow(client, api_engine, admin, caplog):
    caplog.set_level(logging.DEBUG)
    created = register(client, admin)
    assert created.status_code == 201, created.get_json()
    account = created.get_json()
    assert account["credential_fields"] == ["api_key"] and "credentials" not in account
    assert account["health"] == "unknown" and account["tenant_id"] is None

    sim(api_engine).create(ResourceSpec(name="existing-vm", flavor="sim.gpu.h100"), "pre-existing-1")
    synced = client.post(f"{V1}/cloud-accounts/{account['id']}/sync", headers=admin)
    assert synced.status_code == 200, synced.get_json()
    assert len(synced.get_json()["pools"]) == 2 and synced.get_json()["resources"]["imported"] == 1

    pools = client.get(f"{V1}/resource-pools?account_id={account['id']}", headers=admin).get_json()
    assert pools["total"] == 2
    zone_a = next(p for p in pools["items"] if p["scope"] == "zone-a")
    dims = {d["dimension"]: d for d in zone_a["dimensions"]}
    assert [d["dimension"] for d in zone_a["dimensions"]] == ["vcpu", "memory_gib", "disk_gib", "gpus",
                                                              "gpus:A100", "gpus:H100"]
    assert dims["vcpu"]["total"] == "256.000" and dims["vcpu"]["allocated"] == "24.000"
    assert dims["gpus:H100"]["allocated"] == "1.000" and dims["gpus:H100"]["free"] == "15.000"
    assert dims["gpus:H100"]["accelerator_kind"] == "gpu" and dims["gpus:H100"]["accelerator_use"] == "training"
    assert Decimal(zone_a["utilisation"]) == Decimal("0.1250")  # memory: 256 of 2048
    assert {t["name"] for t in zone_a["instance_types"]} >= {"sim.gpu.h100"}

    priced = client.patch(f"{V1}/resource-pools/{zone_a['id']}", headers=admin,
                          json={"unit_costs": {"vcpu": "0.02", "gpus:H100": "2.50"}, "perf_scores": {"H100": "100"}})
    assert priced.status_code == 200, priced.get_json()
    assert Decimal(priced.get_json()["hourly_cost_allocated"]) == Decimal("24") * Decimal("0.02") + Decimal("2.50")

    sim(api_engine).create(ResourceSpec(name="second", flavor="sim.gpu.h100"), "pre-existing-2")
    assert client.post(f"{V1}/cloud-accounts/{account['id']}/sync", headers=admin).status_code == 200
    again = {d["dimension"]: d for d in client.get(f"{V1}/resource-pools/{zone_a['id']}", headers=admin)
             .get_json()["dimensions"]}
    assert again["gpus:H100"]["allocated"] == "2.000"
    assert again["gpus:H100"]["unit_cost"] == "2.500000" and again["gpus:H100"]["perf_score"] == "100.000"

    every_body = json.dumps([client.get(f"{V1}/cloud-accounts", headers=admin).get_json(),
                             client.get(f"{V1}/cloud-accounts/{account['id']}", headers=admin).get_json(),
                             account, synced.get_json()])
    assert SECRET not in every_body
    assert SECRET not in audit_text(api_engine)
    assert SECRET not in caplog.text


def test_probe_records_health_and_a_failure_opens_one_alert_that_the_next_good_probe_resolves(client, api_engine,
                                                                                             admin, caplog):
    caplog.set_level(logging.DEBUG)
    good = register(client, admin, name="good").get_json()
    ok = client.post(f"{V1}/cloud-accounts/{good['id']}/probe", headers=admin).get_json()
    assert ok["health"] == "up" and ok["latency_ms"] is not None and ok["version"] == simulator.VERSION

    bad = register(client, admin, name="wrong-key", secret=OTHER_SECRET).get_json()  # same cloud, wrong key
    for _ in range(2):
        failed = client.post(f"{V1}/cloud-accounts/{bad['id']}/probe", headers=admin)
        assert failed.status_code == 200
    failed = failed.get_json()
    assert failed["health"] == "down" and failed["error_code"] == "CONNECTOR_UNAUTHORISED"
    assert failed["probe_failures"] == 2
    alerts = client.get(f"{V1}/cloud-accounts/alerts", headers=admin).get_json()["items"]
    assert [(a["account_id"], a["occurrences"], a["error_code"]) for a in alerts] == [
        (bad["id"], 2, "CONNECTOR_UNAUTHORISED")]

    fixed = client.patch(f"{V1}/cloud-accounts/{bad['id']}", headers=admin, json={"credentials": {"api_key": SECRET}})
    assert fixed.status_code == 200 and fixed.get_json()["credential_fields"] == ["api_key"]
    assert client.post(f"{V1}/cloud-accounts/{bad['id']}/probe", headers=admin).get_json()["health"] == "up"
    assert client.get(f"{V1}/cloud-accounts/alerts", headers=admin).get_json()["total"] == 0
    resolved = client.get(f"{V1}/cloud-accounts/alerts?status=resolved", headers=admin).get_json()["items"]
    assert [a["account_id"] for a in resolved] == [bad["id"]]
    for secret in (SECRET, OTHER_SECRET):
        assert secret not in caplog.text and secret not in audit_text(api_engine)
        assert secret not in fixed.get_data(as_text=True)


def test_an_unreachable_provider_fails_the_sync_with_its_code_and_changes_nothing(client, api_engine, admin):
    account = register(client, admin).get_json()
    assert client.post(f"{V1}/cloud-accounts/{account['id']}/sync", headers=admin).status_code == 200
    before = client.get(f"{V1}/resource-pools", headers=admin).get_json()
    simulator.add_fault(api_engine.settings.var_dir / SIMULATOR_STATE, "lab", op="capacity", nth=2,
                        kind="error", error="Unreachable")
    failed = client.post(f"{V1}/cloud-accounts/{account['id']}/sync", headers=admin)
    assert failed.status_code == 502
    body = failed.get_json()
    assert body["code"] == "provider_error" and body["errors"][0]["code"] == "CONNECTOR_UNREACHABLE"
    assert client.get(f"{V1}/resource-pools", headers=admin).get_json() == before
    shown = client.get(f"{V1}/cloud-accounts/{account['id']}", headers=admin).get_json()
    assert shown["sync_message"].startswith("CONNECTOR_UNREACHABLE")

    nowhere = register(client, admin, name="nowhere", cloud="lab").get_json()
    client.patch(f"{V1}/cloud-accounts/{nowhere['id']}", headers=admin, json={"endpoint": "sim://no-such-cloud"})
    probed = client.post(f"{V1}/cloud-accounts/{nowhere['id']}/probe", headers=admin).get_json()
    assert probed["health"] == "down" and probed["error_code"] == "CONNECTOR_UNREACHABLE"


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "provider_type": "nope", "endpoint": "sim://x", "credentials": {"api_key": "k"}}, "provider_type"),
    ({"name": "x", "provider_type": "simulator", "endpoint": "sim://x", "credentials": {}}, "credentials"),
    ({"name": "x", "provider_type": "simulator", "endpoint": "sim://x", "credentials": {"api_key": "k"},
      "options": {"state_path": "/etc/passwd"}}, "options"),
    ({"name": "", "provider_type": "simulator", "endpoint": "sim://x", "credentials": {"api_key": "k"}}, "name"),
    ({"name": "x", "provider_type": "simulator", "endpoint": "sim://bad name", "credentials": {"api_key": "k"}},
     "endpoint"),
    ({"name": "x", "provider_type": "aws", "region": "us-east-1", "credentials": {"access_key_id": "a"}},
     "credentials"),
])
def test_bad_account_input_is_a_422_naming_the_field_and_stores_nothing(client, admin, body, field):
    resp = client.post(f"{V1}/cloud-accounts", headers=admin, json=body)
    assert resp.status_code == 422, resp.get_json()
    assert field in {e["field"] for e in resp.get_json()["errors"]}
    assert client.get(f"{V1}/cloud-accounts", headers=admin).get_json()["total"] == 0


def test_a_duplicate_name_is_a_409_per_owner(client, admin):
    assert register(client, admin).status_code == 201
    dup = register(client, admin)
    assert dup.status_code == 409 and dup.get_json()["errors"][0]["field"] == "name"
    alpha = login(client, "alpha-admin")
    assert register(client, alpha, cloud="alpha-cloud").status_code == 201  # another owner: its own names


def test_tenants_see_and_touch_only_their_own_accounts_pools_and_resources(client, api_engine, admin):
    alpha, beta = login(client, "alpha-admin"), login(client, "beta-admin")
    platform = register(client, admin, name="platform").get_json()
    mine = register(client, alpha, name="alpha-own", cloud="alpha-cloud", secret="alpha-key-1234")
    assert mine.status_code == 201 and mine.get_json()["tenant_id"] is not None
    mine = mine.get_json()
    sim(api_engine, "alpha-cloud", "alpha-key-1234").create(ResourceSpec(name="alpha-vm", vcpu=2, memory_gib=4),
                                                            "alpha-token")
    assert client.post(f"{V1}/cloud-accounts/{mine['id']}/sync", headers=alpha).status_code == 200

    assert [a["id"] for a in client.get(f"{V1}/cloud-accounts", headers=alpha).get_json()["items"]] == [mine["id"]]
    assert client.get(f"{V1}/cloud-accounts", headers=beta).get_json()["total"] == 0
    for method, url in (("get", f"/cloud-accounts/{mine['id']}"), ("post", f"/cloud-accounts/{mine['id']}/probe"),
                        ("post", f"/cloud-accounts/{mine['id']}/sync"), ("delete", f"/cloud-accounts/{mine['id']}"),
                        ("get", f"/cloud-accounts/{platform['id']}")):
        assert getattr(client, method)(V1 + url, headers=beta).status_code == 404, url
    assert client.patch(f"{V1}/cloud-accounts/{mine['id']}", headers=beta, json={"name": "x"}).status_code == 404
    assert client.get(f"{V1}/resource-pools", headers=beta).get_json()["total"] == 0
    assert client.get(f"{V1}/resources", headers=beta).get_json()["total"] == 0
    alpha_pools = client.get(f"{V1}/resource-pools", headers=alpha).get_json()
    assert alpha_pools["total"] == 2 and all(p["tenant_id"] == mine["tenant_id"] for p in alpha_pools["items"])
    resources = client.get(f"{V1}/resources", headers=alpha).get_json()["items"]
    assert [r["name"] for r in resources] == ["alpha-vm"]
    assert client.get(f"{V1}/resources/{resources[0]['id']}", headers=beta).status_code == 404
    other = client.post(f"{V1}/cloud-accounts", headers=alpha, json={
        "name": "sneaky", "provider_type": "simulator", "endpoint": "sim://s", "credentials": {"api_key": "k"},
        "tenant_id": login_tenant(client, api_engine, "beta")})
    assert other.status_code == 422 and other.get_json()["errors"][0]["field"] == "tenant_id"


def login_tenant(client, api_engine, code):
    from engine.models import Tenant

    with api_engine.db.read() as s:
        return s.scalar(select(Tenant.id).where(Tenant.code == code))


def test_orphans_are_listed_and_staff_assign_them_to_a_tenant_and_its_business_system(client, api_engine, admin,
                                                                                      demo):
    account = register(client, admin).get_json()
    sim(api_engine).create(ResourceSpec(name="found-vm", vcpu=4, memory_gib=8), "orphan-1")
    client.post(f"{V1}/cloud-accounts/{account['id']}/sync", headers=admin)
    orphans = client.get(f"{V1}/resources/orphans", headers=admin).get_json()["items"]
    assert [(o["name"], o["tenant_id"], o["orphan"], o["origin"]) for o in orphans] == [
        ("found-vm", None, True, "imported")]
    rid = orphans[0]["id"]
    alpha = login(client, "alpha-admin")
    assert client.get(f"{V1}/resources/{rid}", headers=alpha).status_code == 404

    wrong = client.put(f"{V1}/resources/{rid}/assignment", headers=admin,
                       json={"tenant_id": demo.tenant["alpha"], "business_system_id": demo.system["beta", "bs-lab"]
                             if ("beta", "bs-lab") in demo.system else next(v for (t, _c), v in demo.system.items()
                                                                             if t == "beta")})
    assert wrong.status_code == 422 and wrong.get_json()["errors"][0]["field"] == "business_system_id"
    alpha_system = next(v for (t, _c), v in demo.system.items() if t == "alpha")
    done = client.put(f"{V1}/resources/{rid}/assignment", headers=admin,
                      json={"tenant_id": demo.tenant["alpha"], "business_system_id": alpha_system})
    assert done.status_code == 200 and done.get_json()["orphan"] is False
    assert client.get(f"{V1}/resources/orphans", headers=admin).get_json()["total"] == 0
    assert client.get(f"{V1}/resources/{rid}", headers=alpha).get_json()["business_system_id"] == alpha_system
    taken = client.put(f"{V1}/resources/{rid}/assignment", headers=alpha, json={"tenant_id": None})
    assert taken.status_code == 403
    filtered = client.get(f"{V1}/resources?business_system_id={alpha_system}", headers=alpha).get_json()
    assert filtered["total"] == 1


def test_static_pools_are_typed_by_hand_and_synchronised_pools_are_not(client, admin):
    made = client.post(f"{V1}/resource-pools", headers=admin, json={
        "name": "rack-7", "dimensions": {"vcpu": {"total": "512", "allocated": "128", "unit_cost": "0.01"},
                                         "gpus:Ascend 910B": {"total": "32", "perf_score": "80"}}})
    assert made.status_code == 201, made.get_json()
    pool = made.get_json()
    dims = {d["dimension"]: d for d in pool["dimensions"]}
    assert pool["static"] and dims["gpus:Ascend 910B"]["accelerator_kind"] == "npu"
    assert Decimal(pool["utilisation"]) == Decimal("0.2500")
    bad = client.post(f"{V1}/resource-pools", headers=admin, json={"name": "x", "dimensions": {"vcpu": {"total": 1.5}}})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "dimensions.vcpu.total"
    over = client.patch(f"{V1}/resource-pools/{pool['id']}", headers=admin,
                        json={"dimensions": {"vcpu": {"allocated": "600"}}})
    assert over.status_code == 422
    account = register(client, admin).get_json()
    client.post(f"{V1}/cloud-accounts/{account['id']}/sync", headers=admin)
    synced = client.get(f"{V1}/resource-pools?account_id={account['id']}", headers=admin).get_json()["items"][0]
    typed = client.patch(f"{V1}/resource-pools/{synced['id']}", headers=admin,
                         json={"dimensions": {"vcpu": {"total": "1"}}})
    assert typed.status_code == 422 and typed.get_json()["errors"][0]["field"] == "dimensions"
    alpha = login(client, "alpha-admin")
    assert client.post(f"{V1}/resource-pools", headers=alpha, json={
        "name": "mine", "dimensions": {"vcpu": {"total": "1"}}}).status_code == 403
    assert client.delete(f"{V1}/resource-pools/{pool['id']}", headers=admin).status_code == 204


@pytest.mark.parametrize("endpoint", [
    "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:5432", "https://localhost:8443/v3",
    "10.0.0.5:443", "http://[::1]:8080", "http://0.0.0.0", "ftp://example.com"])
def test_a_tenants_account_cannot_point_the_platform_at_its_own_network(client, api_engine, endpoint):
    alpha = login(client, "alpha-admin")
    body = {"name": "ssrf", "provider_type": "openstack", "endpoint": endpoint, "region": "r1",
            "credentials": {"username": "u", "password": "p", "project_name": "x"}}
    refused = client.post(f"{V1}/cloud-accounts", headers=alpha, json=body)
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["errors"][0]["field"] == "endpoint"
    assert client.get(f"{V1}/cloud-accounts", headers=alpha).get_json()["total"] == 0


@pytest.mark.parametrize("api_overrides", [{"tenant_endpoint_networks": (ip_network("127.0.0.0/8"),)}])
def test_a_tenant_endpoint_network_an_operator_allows_is_accepted(client, api_engine, admin):
    alpha = login(client, "alpha-admin")
    body = {"name": "vpn-cloud", "provider_type": "openstack", "endpoint": "http://127.0.0.1:5000/v3",
            "region": "r1", "credentials": {"username": "u", "password": "p", "project_name": "x"}}
    assert client.post(f"{V1}/cloud-accounts", headers=alpha, json=body).status_code == 201
    platform = {**body, "name": "platform-cloud"}  # operators' own accounts are not limited
    assert client.post(f"{V1}/cloud-accounts", headers=admin, json=platform).status_code == 201


def test_an_endpoint_that_now_resolves_inward_fails_its_probe_and_the_other_accounts_are_still_probed(
        client, api_engine, admin):
    from engine.domains.resources.accounts import probe_due
    from engine.domains.resources.models import CloudAccount

    alpha = login(client, "alpha-admin")
    mine = register(client, alpha, name="alpha-own", cloud="alpha-cloud").get_json()
    platform = register(client, admin, name="platform").get_json()
    with api_engine.db.write() as s:  # as if its name resolved to the platform's network by now
        s.get(CloudAccount, mine["id"]).endpoint = "http://127.0.0.1:5432"
    assert probe_due(api_engine, 0) == 2
    probed = {a["id"]: a for a in client.get(f"{V1}/cloud-accounts", headers=admin).get_json()["items"]}
    assert probed[platform["id"]]["health"] == "up"
    assert probed[mine["id"]]["health"] == "down" and "platform's network" in probed[mine["id"]]["health_message"]
