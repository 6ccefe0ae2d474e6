"""Tenancy over HTTP on a real database: tenants, organisations, business systems, users, roles,
quotas; tenant isolation (404, never 403); idempotent creates; every change audited."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from engine.models import AuditEntry
from tests.api.conftest import DEMO_PASSWORD, login

V1 = "/api/v1"
PASSWORD = "Str0ng-Enough!"


def audit_actions(engine) -> list[tuple[str, str | None]]:
    with engine.db.read() as s:
        return [(a, actor) for a, actor in s.execute(select(AuditEntry.action, AuditEntry.actor)
                                                     .order_by(AuditEntry.id))]


# -- tenants ----------------------------------------------------------------------------------------

def test_tenant_lifecycle(client, api_engine, demo):
    admin = login(client, "admin")
    key = {**admin, "Idempotency-Key": "create-gamma"}
    first = client.post(f"{V1}/tenants", headers=key, json={"code": "gamma", "name": "Gamma"})
    again = client.post(f"{V1}/tenants", headers=key, json={"code": "gamma", "name": "Gamma"})
    assert first.status_code == again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    gamma = first.get_json()["id"]
    dup = client.post(f"{V1}/tenants", headers=admin, json={"code": "gamma", "name": "Again"})
    assert dup.status_code == 409 and dup.get_json()["errors"][0]["field"] == "code"
    bad = client.post(f"{V1}/tenants", headers=admin, json={"code": "Not Valid!", "name": ""})
    assert bad.status_code == 422 and {e["field"] for e in bad.get_json()["errors"]} >= {"name"}

    listed = client.get(f"{V1}/tenants?q=amm&page_size=1", headers=admin).get_json()
    assert listed["total"] == 1 and listed["items"][0]["code"] == "gamma"
    edited = client.patch(f"{V1}/tenants/{gamma}", headers=admin, json={"name": "Gamma Ltd", "description": "d"})
    assert edited.get_json()["name"] == "Gamma Ltd"

    # a tenant with users cannot go; the message says what is left and what the rule is
    refused = client.delete(f"{V1}/tenants/{demo.tenant['beta']}", headers=admin)
    assert refused.status_code == 409
    assert "users" in refused.get_json()["message"] and "process instances" in refused.get_json()["message"]
    org = client.post(f"{V1}/organizations", headers=admin, json={"tenant_id": gamma, "code": "hq", "name": "HQ"})
    client.put(f"{V1}/tenants/{gamma}/quota", headers=admin, json={"totals": {"vcpu": 8}})
    client.put(f"{V1}/organizations/{org.get_json()['id']}/quota", headers=admin, json={"totals": {"vcpu": 4}})
    assert client.delete(f"{V1}/tenants/{gamma}", headers=admin).status_code == 204  # its structure goes with it
    assert client.get(f"{V1}/tenants/{gamma}", headers=admin).status_code == 404
    actions = [a for a, _ in audit_actions(api_engine)]
    assert {"tenant.create", "tenant.update", "tenant.delete", "quota.update", "organization.create"} <= set(actions)


def test_disabling_a_tenant_locks_its_users_out(client, demo):
    admin = login(client, "admin")
    user = login(client, "beta-user")
    assert client.get(f"{V1}/organizations", headers=user).status_code == 200
    off = client.patch(f"{V1}/tenants/{demo.tenant['beta']}", headers=admin, json={"enabled": False})
    assert off.status_code == 200 and off.get_json()["enabled"] is False
    assert client.get(f"{V1}/organizations", headers=user).status_code == 401
    assert client.post(f"{V1}/auth/login", json={"username": "beta-user", "password": DEMO_PASSWORD}).status_code == 401
    client.patch(f"{V1}/tenants/{demo.tenant['beta']}", headers=admin, json={"enabled": True})
    assert client.get(f"{V1}/organizations", headers=login(client, "beta-user")).status_code == 200


def test_a_tenant_user_sees_only_its_own_tenant(client, demo):
    beta = login(client, "beta-admin")
    assert [t["code"] for t in client.get(f"{V1}/tenants", headers=beta).get_json()["items"]] == ["beta"]
    assert client.get(f"{V1}/tenants/{demo.tenant['alpha']}", headers=beta).status_code == 404
    assert client.get(f"{V1}/tenants/{demo.tenant['beta']}", headers=beta).status_code == 200


# -- isolation --------------------------------------------------------------------------------------

def test_beta_admin_gets_404_for_everything_of_alpha(client, demo):
    beta = login(client, "beta-admin")
    org, user, system = demo.org["alpha", "research"], demo.user["alpha-user"], demo.system["alpha", "training"]
    for method, path, body in [
        ("GET", f"/organizations/{org}", None), ("PATCH", f"/organizations/{org}", {"name": "x"}),
        ("DELETE", f"/organizations/{org}", None), ("GET", f"/organizations/{org}/quota", None),
        ("PUT", f"/organizations/{org}/quota", {"totals": {"vcpu": 1}}),
        ("GET", f"/users/{user}", None), ("PATCH", f"/users/{user}", {"enabled": False}),
        ("POST", f"/users/{user}/reset-password", {"new_password": PASSWORD}), ("GET", f"/users/{user}/roles", None),
        ("GET", f"/business-systems/{system}", None), ("PATCH", f"/business-systems/{system}", {"name": "x"}),
        ("DELETE", f"/business-systems/{system}", None), ("GET", f"/business-systems/{system}/members", None),
        ("POST", f"/business-systems/{system}/members", {"user_id": demo.user["beta-user"]}),
        ("POST", "/organizations", {"code": "x", "name": "x", "parent_id": org}),
        ("POST", "/business-systems", {"code": "x", "name": "x", "organization_id": org}),
        ("POST", "/users", {"username": "intruder", "password": PASSWORD, "organization_id": org}),
        ("GET", f"/quotas?tenant_id={demo.tenant['alpha']}", None),
    ]:
        resp = client.open(f"{V1}{path}", method=method, headers=beta, json=body)
        assert resp.status_code == 404, f"{method} {path}: {resp.status_code} {resp.get_json()}"
    # and alpha's own admin reaches them
    assert client.get(f"{V1}/organizations/{org}", headers=login(client, "alpha-admin")).status_code == 200
    # beta cannot pull alpha's user into a beta system either
    resp = client.post(f"{V1}/business-systems/{demo.system['beta', 'inference']}/members", headers=beta,
                       json={"user_id": user})
    assert resp.status_code == 404


# -- organisations ----------------------------------------------------------------------------------

def test_organisation_tree(client, api_engine, demo):
    admin = login(client, "alpha-admin")
    hq = demo.org["alpha", "hq"]
    lab = client.post(f"{V1}/organizations", headers=admin, json={"code": "lab", "name": "Lab", "parent_id": hq})
    assert lab.status_code == 201
    lab = lab.get_json()
    assert lab["path"] == f"/{hq}/{lab['id']}/" and lab["parent_id"] == hq
    cell = client.post(f"{V1}/organizations", headers=admin,
                       json={"code": "cell", "name": "Cell", "parent_id": lab["id"]}).get_json()
    dup = client.post(f"{V1}/organizations", headers=admin, json={"code": "lab", "name": "Other"})
    assert dup.status_code == 409

    under = client.get(f"{V1}/organizations?under={lab['id']}", headers=admin).get_json()
    assert [o["code"] for o in under["items"]] == ["lab", "cell"]
    children = client.get(f"{V1}/organizations?parent_id={hq}", headers=admin).get_json()
    assert {o["code"] for o in children["items"]} == {"research", "operations", "lab"}

    renamed = client.patch(f"{V1}/organizations/{lab['id']}", headers=admin, json={"name": "Laboratory"})
    assert renamed.get_json()["name"] == "Laboratory"
    moved = client.patch(f"{V1}/organizations/{lab['id']}", headers=admin,
                         json={"parent_id": demo.org["alpha", "research"]}).get_json()
    assert moved["path"] == f"/{hq}/{demo.org['alpha', 'research']}/{lab['id']}/"
    assert client.get(f"{V1}/organizations/{cell['id']}", headers=admin).get_json()["path"].startswith(moved["path"])
    loop = client.patch(f"{V1}/organizations/{lab['id']}", headers=admin, json={"parent_id": cell["id"]})
    assert loop.status_code == 409

    busy = client.delete(f"{V1}/organizations/{demo.org['alpha', 'research']}", headers=admin)
    assert busy.status_code == 409
    assert "child organisations" in busy.get_json()["message"] and "users" in busy.get_json()["message"]
    assert client.delete(f"{V1}/organizations/{lab['id']}", headers=admin).status_code == 409  # has cell
    assert client.delete(f"{V1}/organizations/{cell['id']}", headers=admin).status_code == 204
    assert client.delete(f"{V1}/organizations/{lab['id']}", headers=admin).status_code == 204
    actions = [a for a, actor in audit_actions(api_engine) if actor == "alpha-admin"]
    assert actions.count("organization.create") == 2 and "organization.move" in actions
    assert actions.count("organization.delete") == 2


def test_organisation_reads_follow_the_data_scope(client, demo):
    approver = login(client, "alpha-approver")  # approver in research: org_and_below
    codes = {o["code"] for o in client.get(f"{V1}/organizations", headers=approver).get_json()["items"]}
    assert codes == {"research"}
    assert client.get(f"{V1}/organizations/{demo.org['alpha', 'hq']}", headers=approver).status_code == 404


# -- business systems -------------------------------------------------------------------------------

def test_business_systems_and_members_across_organisations(client, api_engine, demo):
    admin = login(client, "alpha-admin")
    made = client.post(f"{V1}/business-systems", headers=admin,
                       json={"code": "billing", "name": "Billing", "organization_id": demo.org["alpha", "operations"]})
    assert made.status_code == 201
    system = made.get_json()["id"]
    added = client.post(f"{V1}/business-systems/{system}/members", headers=admin,
                        json={"user_id": demo.user["alpha-user"]})  # a research user in an operations system
    assert added.status_code == 201 and added.get_json()["username"] == "alpha-user"
    members = client.get(f"{V1}/business-systems/{system}/members", headers=admin).get_json()
    assert [m["username"] for m in members["items"]] == ["alpha-user"]
    mine = client.get(f"{V1}/business-systems?member={demo.user['alpha-user']}", headers=admin).get_json()
    assert {b["code"] for b in mine["items"]} == {"training", "billing"}

    user = login(client, "alpha-user")  # tenant_user: the systems it is a member of
    assert {b["code"] for b in client.get(f"{V1}/business-systems", headers=user).get_json()["items"]} == {
        "training", "billing"}
    moved = client.patch(f"{V1}/business-systems/{system}", headers=admin,
                         json={"organization_id": demo.org["alpha", "research"], "name": "Billing 2"})
    assert moved.get_json()["organization_id"] == demo.org["alpha", "research"]
    wrong = client.patch(f"{V1}/business-systems/{system}", headers=admin,
                         json={"organization_id": demo.org["beta", "lab"]})
    assert wrong.status_code == 404
    assert client.delete(f"{V1}/business-systems/{system}/members/{demo.user['alpha-user']}",
                         headers=admin).status_code == 204
    assert client.delete(f"{V1}/business-systems/{system}", headers=admin).status_code == 204
    actions = {a for a, _ in audit_actions(api_engine)}
    assert {"business-system.create", "business-system.member-add", "business-system.member-remove",
            "business-system.update", "business-system.delete"} <= actions


# -- users ------------------------------------------------------------------------------------------

def test_user_lifecycle(client, api_engine, demo):
    admin = login(client, "alpha-admin")
    weak = client.post(f"{V1}/users", headers=admin, json={"username": "dora", "password": "short",
                                                           "organization_id": demo.org["alpha", "operations"]})
    assert weak.status_code == 422 and weak.get_json()["errors"][0]["field"] == "password"
    no_org = client.post(f"{V1}/users", headers=admin, json={"username": "dora", "password": PASSWORD})
    assert no_org.status_code == 422 and no_org.get_json()["errors"][0]["field"] == "organization_id"
    made = client.post(f"{V1}/users", headers={**admin, "Idempotency-Key": "dora-1"},
                       json={"username": "dora", "password": PASSWORD, "display_name": "Dora",
                             "organization_id": demo.org["alpha", "operations"], "roles": ["tenant_user"]})
    assert made.status_code == 201
    dora = made.get_json()
    assert dora["roles"] == ["tenant_user"] and dora["tenant_id"] == demo.tenant["alpha"] and "password" not in dora
    taken = client.post(f"{V1}/users", headers=admin, json={"username": "dora", "password": PASSWORD,
                                                            "organization_id": demo.org["alpha", "hq"]})
    assert taken.status_code == 409
    session = login(client, "dora", PASSWORD)
    assert client.get(f"{V1}/business-systems", headers=session).status_code == 200

    listed = client.get(f"{V1}/users?role=tenant_user&q=dor", headers=admin).get_json()
    assert [u["username"] for u in listed["items"]] == ["dora"]

    off = client.patch(f"{V1}/users/{dora['id']}", headers=admin, json={"enabled": False})
    assert off.get_json()["enabled"] is False
    assert client.get(f"{V1}/business-systems", headers=session).status_code == 401  # its sessions ended
    assert client.post(f"{V1}/auth/login", json={"username": "dora", "password": PASSWORD}).status_code == 401
    client.patch(f"{V1}/users/{dora['id']}", headers=admin, json={"enabled": True})
    session = login(client, "dora", PASSWORD)

    new_password = "An0ther-Secret!"
    assert client.post(f"{V1}/users/{dora['id']}/reset-password", headers=admin,
                       json={"new_password": new_password}).status_code == 204
    assert client.get(f"{V1}/business-systems", headers=session).status_code == 401
    login(client, "dora", new_password)
    assert client.patch(f"{V1}/users/{demo.user['alpha-admin']}", headers=admin,
                        json={"enabled": False}).status_code == 409  # not yourself
    actions = {a for a, _ in audit_actions(api_engine)}
    assert {"user.create", "user.disable", "user.enable", "user.password-reset"} <= actions


def test_user_reads_follow_the_data_scope(client, demo):
    approver = login(client, "alpha-approver")  # research and below
    names = {u["username"] for u in client.get(f"{V1}/users", headers=approver).get_json()["items"]}
    assert names == {"alpha-approver", "alpha-user"}
    assert client.get(f"{V1}/users/{demo.user['alpha-admin']}", headers=approver).status_code == 404
    admin = login(client, "admin")
    everyone = client.get(f"{V1}/users?page_size=200", headers=admin).get_json()
    assert everyone["total"] >= 8
    alpha_only = client.get(f"{V1}/users?tenant_id={demo.tenant['alpha']}", headers=admin).get_json()
    assert {u["username"] for u in alpha_only["items"]} == {"alpha-admin", "alpha-approver", "alpha-user"}


def test_platform_staff_create_platform_staff_and_tenant_users(client, demo):
    admin = login(client, "admin")
    staff = client.post(f"{V1}/users", headers=admin, json={"username": "ops2", "password": PASSWORD,
                                                            "platform": True, "roles": ["platform_operator"]})
    assert staff.status_code == 201 and staff.get_json()["tenant_id"] is None
    wrong_side = client.post(f"{V1}/users", headers=admin, json={
        "username": "ops3", "password": PASSWORD, "platform": True, "roles": ["tenant_admin"]})
    assert wrong_side.status_code == 422
    tenant_user = client.post(f"{V1}/users", headers=admin, json={
        "username": "beta-two", "password": PASSWORD, "organization_id": demo.org["beta", "lab"]})
    assert tenant_user.status_code == 201 and tenant_user.get_json()["tenant_id"] == demo.tenant["beta"]
    alpha_admin = login(client, "alpha-admin")
    assert client.post(f"{V1}/users", headers=alpha_admin, json={
        "username": "sneaky", "password": PASSWORD, "platform": True}).status_code == 403


# -- roles ------------------------------------------------------------------------------------------

def test_roles(client, api_engine, demo):
    admin = login(client, "alpha-admin")
    listed = client.get(f"{V1}/roles?page_size=100", headers=admin).get_json()
    builtin = {r["code"]: r for r in listed["items"] if r["builtin"]}
    assert set(builtin) == {"tenant_admin", "approver", "tenant_user"}
    assert client.patch(f"{V1}/roles/{builtin['approver']['id']}", headers=admin,
                        json={"name": "x"}).status_code == 409
    assert client.delete(f"{V1}/roles/{builtin['approver']['id']}", headers=admin).status_code == 409
    catalog = client.get(f"{V1}/permissions", headers=admin).get_json()
    assert "task:work" in catalog["permissions"] and "my_systems" in catalog["data_scopes"]

    role = client.post(f"{V1}/roles", headers=admin, json={"code": "reviewer", "name": "Reviewer",
                                                           "permissions": ["task:*", "process-instance:read"],
                                                           "data_scope": "my_systems"})
    assert role.status_code == 201 and role.get_json()["tenant_id"] == demo.tenant["alpha"]
    role = role.get_json()
    bad_scope = client.post(f"{V1}/roles", headers=admin, json={"code": "r2", "name": "x",
                                                                "permissions": ["task:read"], "data_scope": "some"})
    assert bad_scope.status_code == 422 and bad_scope.get_json()["errors"][0]["field"] == "data_scope"
    clash = client.post(f"{V1}/roles", headers=admin, json={"code": "approver", "name": "x",
                                                            "permissions": ["task:read"], "data_scope": "all"})
    assert clash.status_code == 409

    assert client.post(f"{V1}/users/{demo.user['alpha-user']}/roles", headers=admin,
                       json={"role_id": role["id"]}).status_code == 201
    held = client.get(f"{V1}/users/{demo.user['alpha-user']}/roles", headers=admin).get_json()
    assert {r["code"] for r in held} == {"tenant_user", "reviewer"}
    assert client.delete(f"{V1}/roles/{role['id']}", headers=admin).status_code == 409  # still held
    edited = client.patch(f"{V1}/roles/{role['id']}", headers=admin, json={"data_scope": "mine"}).get_json()
    assert edited["data_scope"] == "mine"
    client.delete(f"{V1}/users/{demo.user['alpha-user']}/roles/{role['id']}", headers=admin)
    assert client.delete(f"{V1}/roles/{role['id']}", headers=admin).status_code == 204
    beta = login(client, "beta-admin")
    assert client.get(f"{V1}/roles/{role['id']}", headers=beta).status_code == 404
    actions = {a for a, _ in audit_actions(api_engine)}
    assert {"role.create", "role.update", "role.delete", "role.assign", "role.unassign"} <= actions


# -- quotas -----------------------------------------------------------------------------------------

def test_quota_hierarchy_over_http(client, api_engine, demo):
    admin, alpha = login(client, "admin"), login(client, "alpha-admin")
    tenant, hq, research = demo.tenant["alpha"], demo.org["alpha", "hq"], demo.org["alpha", "research"]
    put = client.put(f"{V1}/tenants/{tenant}/quota", headers=admin,
                     json={"totals": {"vcpu": 64, "memory_gib": "256.5", "gpus": 8}})
    assert put.status_code == 200 and put.get_json()["dimensions"]["memory_gib"]["total"] == "256.500"
    assert client.put(f"{V1}/tenants/{tenant}/quota", headers=alpha,
                      json={"totals": {"vcpu": 1000}}).status_code == 403

    assert client.put(f"{V1}/organizations/{hq}/quota", headers=alpha, json={"totals": {"vcpu": 48}}).status_code == 200
    over = client.put(f"{V1}/organizations/{research}/quota", headers=alpha, json={"totals": {"vcpu": 49}})
    assert over.status_code == 409
    body = over.get_json()
    assert body["errors"][0]["dimension"] == "vcpu" and body["errors"][0]["level"] == "organization"
    assert "organization 'hq'" in body["message"]
    ok = client.put(f"{V1}/organizations/{research}/quota", headers=alpha, json={"totals": {"vcpu": 32}})
    assert ok.get_json()["dimensions"]["vcpu"]["available"] == "32.000"

    lower = client.put(f"{V1}/tenants/{tenant}/quota", headers=admin, json={"totals": {"vcpu": 47}})
    assert lower.status_code == 409 and lower.get_json()["errors"][0]["level"] == "tenant"
    lower = client.put(f"{V1}/organizations/{hq}/quota", headers=alpha, json={"totals": {"vcpu": 31}})
    assert lower.status_code == 409 and "organization 'hq'" in lower.get_json()["message"]

    for bad in ({"vcpu": -1}, {"cpu": 1}, {"vcpu": "many"}, {"vcpu": "1.0005"}):
        resp = client.put(f"{V1}/organizations/{hq}/quota", headers=alpha, json={"totals": bad})
        assert resp.status_code == 422, bad
        assert resp.get_json()["errors"][0]["field"].startswith("totals.")

    levels = client.get(f"{V1}/quotas", headers=alpha).get_json()
    by_label = {lv["label"]: lv["dimensions"]["vcpu"] for lv in levels["items"]}
    assert by_label["tenant 'alpha'"] == {"total": "64.000", "allocated": "48.000", "available": "16.000",
                                          "used": "0.000", "in_process": "0.000"}
    assert by_label["organization 'hq'"]["allocated"] == "32.000"
    user_view = client.get(f"{V1}/quotas", headers=login(client, "alpha-user")).get_json()
    assert [lv["label"] for lv in user_view["items"]] == ["organization 'research'"]
    assert ("quota.update", "alpha-admin") in audit_actions(api_engine)


def test_gpu_caps_per_model_over_http(client, demo):
    admin, alpha = login(client, "admin"), login(client, "alpha-admin")
    tenant, hq = demo.tenant["alpha"], demo.org["alpha", "hq"]
    put = client.put(f"{V1}/tenants/{tenant}/quota", headers=admin,
                     json={"totals": {"gpus": 16, "gpus_by_model": {"H100": 8}}})
    assert put.status_code == 200, put.get_json()
    level = put.get_json()
    assert level["dimensions"]["gpus"]["total"] == "16.000"  # the total keeps its place and meaning
    assert level["gpus_by_model"]["H100"] == {"capped": True, "total": "8.000", "allocated": "0.000",
                                              "available": "8.000", "used": "0.000", "in_process": "0.000"}
    over = client.put(f"{V1}/organizations/{hq}/quota", headers=alpha, json={"totals": {"gpus_by_model": {"H100": 9}}})
    assert over.status_code == 409 and over.get_json()["errors"][0]["dimension"] == "gpus:H100"
    ok = client.put(f"{V1}/organizations/{hq}/quota", headers=alpha, json={"totals": {"gpus_by_model": {"H100": 8}}})
    assert ok.status_code == 200 and ok.get_json()["gpus_by_model"]["H100"]["total"] == "8.000"
    lifted = client.put(f"{V1}/organizations/{hq}/quota", headers=alpha,
                        json={"totals": {"gpus_by_model": {"H100": None}}})
    assert lifted.get_json()["gpus_by_model"]["H100"]["total"] is None
    assert client.get(f"{V1}/tenants/{tenant}/quota", headers=admin).get_json()["gpus_by_model"]["H100"][
        "available"] == "8.000"
    for bad in ({"H100": -1}, {"A,B": 1}, {"": 1}):
        resp = client.put(f"{V1}/organizations/{hq}/quota", headers=alpha, json={"totals": {"gpus_by_model": bad}})
        assert resp.status_code == 422, bad


@pytest.mark.postgres
def test_concurrent_quota_updates_over_http_never_overcommit(pg_app, pg_api_engine):
    client = pg_app.test_client()
    admin, alpha = login(client, "admin"), login(client, "alpha-admin")
    from tests.api.conftest import Demo

    demo = Demo(pg_api_engine)
    client.put(f"{V1}/tenants/{demo.tenant['alpha']}/quota", headers=admin, json={"totals": {"gpus": 10}})
    orgs = [demo.org["alpha", "hq"]]
    orgs += [client.post(f"{V1}/organizations", headers=alpha, json={"code": f"top{i}", "name": f"T{i}"})
             .get_json()["id"] for i in range(5)]
    barrier = threading.Barrier(len(orgs))
    codes: list[int] = []

    def grab(org_id: str) -> None:
        own = pg_app.test_client()
        barrier.wait()
        codes.append(own.put(f"{V1}/organizations/{org_id}/quota", headers=alpha,
                             json={"totals": {"gpus": 4}}).status_code)

    threads = [threading.Thread(target=grab, args=(o,)) for o in orgs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 200, 409, 409, 409, 409]
    tenant = client.get(f"{V1}/tenants/{demo.tenant['alpha']}/quota", headers=admin).get_json()
    assert tenant["dimensions"]["gpus"]["allocated"] == "8.000"
