"""Authorization over HTTP: each built-in role's reach, custom roles, role switching, every route guarded."""

from __future__ import annotations

import pytest

from tests.api.conftest import login

V1 = "/api/v1"


def status(client, method: str, path: str, headers: dict, **kwargs) -> int:
    return client.open(f"{V1}{path}", method=method, headers=headers, **kwargs).status_code


# (method, path, json) -> expected status per seeded user; "{alpha}" etc. are filled from the seed
MATRIX = [
    (("GET", "/tenants", None), {"admin": 200, "operator": 200, "designer": 403, "alpha-admin": 200,
                                 "alpha-approver": 403, "alpha-user": 403, "beta-admin": 200}),
    (("POST", "/tenants", {"code": "gamma", "name": "Gamma"}),
     {"admin": 201, "operator": 403, "designer": 403, "alpha-admin": 403, "alpha-user": 403}),
    (("GET", "/organizations", None), {"admin": 200, "operator": 200, "designer": 403, "alpha-admin": 200,
                                       "alpha-approver": 200, "alpha-user": 200}),
    (("POST", "/organizations", {"code": "new", "name": "New", "parent_id": "{hq}"}),
     {"admin": 201, "operator": 403, "alpha-admin": 201, "alpha-approver": 403, "alpha-user": 403,
      "beta-admin": 404}),
    (("GET", "/users", None), {"admin": 200, "operator": 200, "designer": 403, "alpha-admin": 200,
                               "alpha-approver": 200, "alpha-user": 403}),
    (("GET", "/roles", None), {"admin": 200, "operator": 403, "alpha-admin": 200, "alpha-approver": 403}),
    (("POST", "/roles", {"code": "viewer", "name": "V", "permissions": ["user:read"], "data_scope": "all"}),
     {"admin": 422, "alpha-admin": 201, "alpha-approver": 403, "alpha-user": 403}),  # admin must name a tenant
    (("GET", "/quotas", None), {"alpha-admin": 200, "alpha-approver": 200, "alpha-user": 200, "designer": 403}),
    (("PUT", "/tenants/{alpha}/quota", {"totals": {"vcpu": 10}}),
     {"admin": 200, "operator": 200, "designer": 403, "alpha-admin": 403, "alpha-user": 403, "beta-admin": 404}),
    (("GET", "/business-systems/{training}", None),
     {"alpha-admin": 200, "alpha-approver": 200, "alpha-user": 200, "beta-admin": 404, "beta-user": 404}),
]


@pytest.mark.parametrize(("request_", "expected"), MATRIX, ids=[f"{m} {p}" for (m, p, _), _ in MATRIX])
def test_builtin_roles_over_http(client, demo, request_, expected):
    method, path, body = request_
    values = {"alpha": demo.tenant["alpha"], "hq": demo.org["alpha", "hq"],
              "training": demo.system["alpha", "training"]}
    path = path.format(**values)
    if body is not None:
        body = {k: (v.format(**values) if isinstance(v, str) else v) for k, v in body.items()}
    got = {}
    for username in expected:
        if body is not None and method == "POST":  # a distinct code per caller so no 409 hides the answer
            body = {**body, "code": f"{body['code'][:5]}-{username}"} if "code" in body else body
        got[username] = status(client, method, path, login(client, username), json=body)
    assert got == expected


def test_unauthenticated_requests_get_401(client, demo):
    assert client.get(f"{V1}/organizations").status_code == 401
    assert client.post(f"{V1}/tenants", json={"code": "x1", "name": "x"}).status_code == 401
    assert client.get(f"{V1}/users", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_every_tenancy_route_requires_a_permission(app):
    prefixes = ("/api/v1/tenants", "/api/v1/organizations", "/api/v1/business-systems", "/api/v1/users",
                "/api/v1/roles", "/api/v1/permissions", "/api/v1/quotas")
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefixes):
            continue
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            target = getattr(view_class, method.lower()) if view_class else view
            assert getattr(target, "aicmp_permission", None), f"{method} {rule.rule} has no @requires"
            checked += 1
    assert checked >= 30


def test_switching_role_narrows_and_a_custom_role_takes_effect_at_once(client, demo):
    admin = login(client, "alpha-admin")
    # give alpha-approver a custom role that reads the audit log
    role = client.post(f"{V1}/roles", headers=admin, json={"code": "auditor", "name": "Auditor",
                                                          "permissions": ["audit:read", "user:read"],
                                                          "data_scope": "all"}).get_json()
    approver = login(client, "alpha-approver")
    users_before = client.get(f"{V1}/users", headers=approver).get_json()["total"]
    assert client.post(f"{V1}/users/{demo.user['alpha-approver']}/roles", headers=admin,
                       json={"role_id": role["id"]}).status_code == 201
    # the same token: roles are read per request and the policy moved in this process at commit
    assert client.get(f"{V1}/users", headers=approver).get_json()["total"] > users_before  # scope all now

    switched = client.post(f"{V1}/auth/switch-role", headers=approver, json={"role": "approver"})
    as_approver = {"Authorization": f"Bearer {switched.get_json()['access_token']}"}
    assert client.get(f"{V1}/users", headers=as_approver).get_json()["total"] == users_before
    assert client.get(f"{V1}/tenants/{demo.tenant['alpha']}/quota", headers=as_approver).status_code == 404

    # editing the custom role: dropping user:read leaves the approver's own narrower scope
    assert client.patch(f"{V1}/roles/{role['id']}", headers=admin,
                        json={"permissions": ["audit:read"]}).status_code == 200
    assert client.get(f"{V1}/users", headers=approver).get_json()["total"] == users_before
    assert client.delete(f"{V1}/users/{demo.user['alpha-approver']}/roles/{role['id']}",
                         headers=admin).status_code == 204
    assert client.delete(f"{V1}/roles/{role['id']}", headers=admin).status_code == 204


def test_nobody_hands_out_what_they_do_not_hold(client, demo):
    admin = login(client, "alpha-admin")
    made = client.post(f"{V1}/roles", headers=admin, json={"code": "role-keeper", "name": "RK",
                                                           "permissions": ["role:*", "user:read"],
                                                           "data_scope": "all"}).get_json()
    client.post(f"{V1}/users/{demo.user['alpha-user']}/roles", headers=admin, json={"role_id": made["id"]})
    keeper = login(client, "alpha-user")
    resp = client.post(f"{V1}/roles", headers=keeper, json={"code": "sneaky", "name": "S",
                                                            "permissions": ["user:*"], "data_scope": "all"})
    assert resp.status_code == 403 and "user:create" in resp.get_json()["message"]
    tenant_admin = next(r for r in client.get(f"{V1}/roles?builtin=true", headers=admin).get_json()["items"]
                        if r["code"] == "tenant_admin")
    resp = client.post(f"{V1}/users/{demo.user['alpha-user']}/roles", headers=keeper,
                       json={"role_id": tenant_admin["id"]})
    assert resp.status_code == 403
    resp = client.post(f"{V1}/roles", headers=admin, json={"code": "boss", "name": "B", "permissions": ["tenant:*"],
                                                           "data_scope": "all"})
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "permissions"
