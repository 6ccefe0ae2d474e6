"""Authentication through the real endpoints on a real (SQLite) database: login, lockout,
password policy and age, single session, refresh, logout, role switching, and their audit rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from argon2 import extract_parameters
from flask_jwt_extended import decode_token
from sqlalchemy import select

from engine import audit
from engine.config import Settings
from engine.core import Engine
from engine.errors import InvalidInput
from engine.identity import GENERIC_FAILURE, authenticate, create_user, principal_for_token
from engine.models import AuditEntry, Role, Tenant, User, UserRole
from tests.api.conftest import DEMO_PASSWORD, login

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
NEW_PASSWORD = "Fresh-Secret-42"


def post_login(client, username: str, password: str = DEMO_PASSWORD, tenant: str | None = None,
               address: str = "10.1.2.3"):
    body: dict[str, Any] = {"username": username, "password": password}
    if tenant is not None:
        body["tenant"] = tenant
    return client.post(LOGIN, json=body, environ_base={"REMOTE_ADDR": address})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_rows(engine: Engine, action: str | None = None) -> list[AuditEntry]:
    with engine.db.read() as s:
        q = select(AuditEntry).order_by(AuditEntry.id)
        if action is not None:
            q = q.where(AuditEntry.action == action)
        return list(s.scalars(q))


def user_row(engine: Engine, username: str) -> User:
    with engine.db.read() as s:
        return s.scalars(select(User).where(User.username == username)).one()


def set_user(engine: Engine, username: str, **values: Any) -> None:
    with engine.db.write() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
        for name, value in values.items():
            setattr(user, name, value)


# -- login ------------------------------------------------------------------------------------

def test_login_returns_tokens_with_the_documented_claims(app, client, api_engine):
    resp = post_login(client, "alpha-user", tenant="alpha")
    assert resp.status_code == 200
    body = resp.get_json()
    assert set(body) == {"access_token", "refresh_token"}
    user = user_row(api_engine, "alpha-user")
    with app.app_context():
        access, refresh = decode_token(body["access_token"]), decode_token(body["refresh_token"])
    assert access["sub"] == user.id and access["type"] == "access" and refresh["type"] == "refresh"
    assert (access["tid"], access["ep"], access["role"]) == (user.tenant_id, user.session_epoch, None)
    assert refresh["tid"] == user.tenant_id and refresh["jti"] != access["jti"]

    me = client.get(ME, headers=bearer(body["access_token"])).get_json()
    assert me["user"]["username"] == "alpha-user"
    assert me["tenant"]["code"] == "alpha" and me["organization"]["code"] == "research"
    assert me["organization"]["path"].count("/") == 3  # /root/child/
    assert me["roles"] == ["tenant_user"] and me["active_role"] is None
    assert "process-instance:start" in me["permissions"] and "tenant:create" not in me["permissions"]

    staff = client.get(ME, headers=login(client, "admin")).get_json()
    assert staff["tenant"] is None and staff["organization"] is None and staff["permissions"] == ["*"]


def test_every_login_failure_answers_the_same(client, api_engine):
    set_user(api_engine, "beta-user", enabled=False)
    attempts = [
        post_login(client, "nobody-here"),  # unknown user
        post_login(client, "alpha-user", "Wrong-Passw0rd!"),  # wrong password
        post_login(client, "alpha-user", tenant="beta"),  # someone else's tenant
        post_login(client, "admin", tenant="alpha"),  # platform staff naming a tenant
        post_login(client, "beta-user"),  # disabled
    ]
    assert [r.status_code for r in attempts] == [401] * 5
    assert {(r.get_json()["code"], r.get_json()["message"]) for r in attempts} == {("unauthorized", GENERIC_FAILURE)}

    failed = audit_rows(api_engine, "auth.login-failed")
    assert [r.detail["reason"] for r in failed] == [
        "unknown_user", "bad_password", "tenant_mismatch", "tenant_mismatch", "disabled"]
    assert failed[0].actor is None and failed[0].detail["username"] == "nobody-here"
    assert all(r.ip == "10.1.2.3" for r in failed)
    assert all("password" not in r.detail for r in failed)
    assert post_login(client, "alpha-user", tenant="alpha").status_code == 200


def test_a_disabled_tenant_ends_logins_and_tokens(client, api_engine):
    headers = login(client, "beta-admin")
    with api_engine.db.write() as s:
        s.scalars(select(Tenant).where(Tenant.code == "beta")).one().enabled = False
    assert client.get(ME, headers=headers).status_code == 401
    assert post_login(client, "beta-admin").status_code == 401
    assert audit_rows(api_engine, "auth.login-failed")[-1].detail["reason"] == "tenant_disabled"


def test_bad_input_is_422_naming_the_field(client):
    resp = client.post(LOGIN, json={"username": "admin"})
    assert resp.status_code == 422
    assert [e["field"] for e in resp.get_json()["errors"]] == ["password"]


def test_lockout_after_failures_from_several_addresses_then_unlock(client, api_engine, frozen_clock):
    """Failures from two addresses lock the account (one address alone cannot: test_login_limits)."""
    settings = api_engine.settings
    assert (settings.lockout_failures, settings.lockout_minutes, settings.login_account_limit) == (5, 15, 3)
    # a success in between resets the count
    for address in ("10.1.2.3", "10.1.2.3", "10.9.9.9", "10.9.9.9"):
        assert post_login(client, "alpha-user", "Wrong-Passw0rd!", address=address).status_code == 401
    assert user_row(api_engine, "alpha-user").failed_logins == 4
    assert post_login(client, "alpha-user").status_code == 200
    assert user_row(api_engine, "alpha-user").failed_logins == 0

    for address in ("10.1.2.3", "10.1.2.3", "10.1.2.3", "10.5.5.5", "10.5.5.5"):
        assert post_login(client, "alpha-user", "Wrong-Passw0rd!", address=address).status_code == 401
    locked = user_row(api_engine, "alpha-user").locked_until
    assert locked == frozen_clock.now() + timedelta(minutes=15)
    assert audit_rows(api_engine, "auth.login-failed")[-1].detail["locked_until"] == locked.isoformat()

    # the right password, but locked: the same answer, from any address
    refused = post_login(client, "alpha-user", address="10.7.7.7")
    assert refused.status_code == 401 and refused.get_json()["message"] == GENERIC_FAILURE
    frozen_clock.advance(timedelta(minutes=14, seconds=59))
    assert post_login(client, "alpha-user", address="10.7.7.7").status_code == 401
    assert user_row(api_engine, "alpha-user").locked_until == locked  # attempts while locked do not extend it
    assert audit_rows(api_engine, "auth.login-failed")[-1].detail["reason"] == "locked"

    frozen_clock.advance(timedelta(seconds=1))
    assert post_login(client, "alpha-user", address="10.7.7.7").status_code == 200
    row = user_row(api_engine, "alpha-user")
    assert row.locked_until is None and row.failed_logins == 0
    assert post_login(client, "alpha-approver").status_code == 200  # other users were never affected



@pytest.mark.postgres
def test_concurrent_failures_all_count_on_postgres(pg_app, pg_api_engine):
    """Parallel wrong guesses (from five addresses) lock the account like serial ones (the user row is
    locked per attempt)."""
    import threading

    barrier = threading.Barrier(5)
    statuses: list[int] = []

    def guess(address: str) -> None:
        client = pg_app.test_client()
        barrier.wait()
        statuses.append(post_login(client, "alpha-user", "Wrong-Passw0rd!", address=address).status_code)

    threads = [threading.Thread(target=guess, args=(f"10.0.0.{n}",)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert statuses == [401] * 5
    assert user_row(pg_api_engine, "alpha-user").locked_until is not None
    assert post_login(pg_app.test_client(), "alpha-user").status_code == 401
    with pg_api_engine.db.read() as s:
        assert audit.verify(s).ok
    assert len(audit_rows(pg_api_engine, "auth.login-failed")) == 6

# -- passwords --------------------------------------------------------------------------------

@pytest.mark.parametrize(("new_password", "problem"), [
    ("Sh0rt!", "at least 10 characters"),
    ("alllowercaseletters", "at least 3 of"),
    ("Alpha-User-2024", "must not contain the username"),
])
def test_password_policy_names_the_field(client, api_engine, new_password, problem):
    resp = client.post("/api/v1/auth/password", json={"username": "alpha-user", "password": DEMO_PASSWORD,
                                                      "new_password": new_password})
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["code"] == "invalid_input" and body["message"].startswith("new_password:")
    assert {e["field"] for e in body["errors"]} == {"new_password"}
    assert any(problem in e["message"] for e in body["errors"])
    # the policy is checked before the credentials: nothing was counted or audited
    assert user_row(api_engine, "alpha-user").failed_logins == 0

    with pytest.raises(InvalidInput) as err:
        create_user(api_engine, username="alpha-user-2", password=new_password, tenant_id=None)
    assert {e["field"] for e in err.value.errors} == {"password"}


def test_policy_settings_are_honoured(tmp_path):
    settings = Settings(var_dir=tmp_path, database_url="sqlite://", password_min_length=4, password_classes=1)
    from engine.identity import policy_problems

    assert policy_problems(settings, "abcd") == []
    assert policy_problems(Settings(var_dir=tmp_path, database_url="sqlite://"), "abcd")  # defaults refuse it
    with pytest.raises(ValueError, match="AICMP_PASSWORD_CLASSES"):
        Settings(var_dir=tmp_path, database_url="sqlite://", password_classes=5)


def test_password_change_with_the_old_password_ends_other_sessions(client, api_engine):
    old_headers = login(client, "alpha-user")
    resp = client.post("/api/v1/auth/password", json={"username": "alpha-user", "password": DEMO_PASSWORD,
                                                      "new_password": NEW_PASSWORD})
    assert resp.status_code == 200
    assert client.get(ME, headers=bearer(resp.get_json()["access_token"])).status_code == 200
    assert client.get(ME, headers=old_headers).status_code == 401
    assert post_login(client, "alpha-user").status_code == 401
    assert post_login(client, "alpha-user", NEW_PASSWORD).status_code == 200

    same = client.post("/api/v1/auth/password", json={"username": "alpha-user", "password": NEW_PASSWORD,
                                                      "new_password": NEW_PASSWORD})
    assert same.status_code == 422 and same.get_json()["errors"][0]["field"] == "new_password"
    wrong = client.post("/api/v1/auth/password", json={"username": "alpha-user", "password": "Not-The-0ne",
                                                       "new_password": "Another-Secret-7"})
    assert wrong.status_code == 401 and wrong.get_json()["message"] == GENERIC_FAILURE
    assert [r.detail["reason"] for r in audit_rows(api_engine, "auth.password-change-failed")] == ["bad_password"]
    assert len(audit_rows(api_engine, "auth.password-change")) == 1


def test_an_expired_password_only_allows_changing_it(client, api_engine, frozen_clock):
    assert api_engine.settings.password_max_age_days == 90
    frozen_clock.advance(timedelta(days=90))
    resp = post_login(client, "alpha-approver")
    assert resp.status_code == 403
    assert resp.get_json()["code"] == "password_expired" and "/api/v1/auth/password" in resp.get_json()["message"]
    assert audit_rows(api_engine, "auth.login-failed")[-1].detail["reason"] == "password_expired"
    assert post_login(client, "alpha-approver", "Wrong-Passw0rd!").status_code == 401  # no hint without the password

    changed = client.post("/api/v1/auth/password", json={"username": "alpha-approver", "password": DEMO_PASSWORD,
                                                         "new_password": NEW_PASSWORD, "tenant": "alpha"})
    assert changed.status_code == 200
    assert client.get(ME, headers=bearer(changed.get_json()["access_token"])).status_code == 200
    assert post_login(client, "alpha-approver", NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize("api_overrides", [{"password_max_age_days": 0}])
def test_max_age_zero_never_expires(client, frozen_clock):
    frozen_clock.advance(timedelta(days=3650))
    assert post_login(client, "alpha-user").status_code == 200


def test_login_upgrades_a_hash_made_with_weaker_parameters(api_engine, tmp_path):
    weak = user_row(api_engine, "designer").password_hash
    assert extract_parameters(weak).memory_cost < 65536  # seeded with the test profile
    standard = Engine(Settings(var_dir=tmp_path, database_url=api_engine.settings.database_url))
    try:
        authenticate(standard, "designer", DEMO_PASSWORD)
        upgraded = user_row(api_engine, "designer").password_hash
        params = extract_parameters(upgraded)
        assert (params.time_cost, params.memory_cost, params.parallelism) == (3, 65536, 4)
        assert audit_rows(api_engine, "auth.login")[-1].detail["rehashed"] is True
        authenticate(standard, "designer", DEMO_PASSWORD)
        assert user_row(api_engine, "designer").password_hash == upgraded  # not again
    finally:
        standard.close()


# -- sessions ---------------------------------------------------------------------------------

def test_sessions_coexist_when_single_session_is_off(client, api_engine):
    assert api_engine.settings.single_session is False
    first, second = login(client, "alpha-user"), login(client, "alpha-user")
    assert client.get(ME, headers=first).status_code == 200
    assert client.get(ME, headers=second).status_code == 200


@pytest.mark.parametrize("api_overrides", [{"single_session": True}])
def test_single_session_ends_older_tokens(client, api_engine):
    first = post_login(client, "alpha-user").get_json()
    second = login(client, "alpha-user")
    resp = client.get(ME, headers=bearer(first["access_token"]))
    assert resp.status_code == 401 and resp.get_json()["code"] == "unauthorized"
    assert client.post("/api/v1/auth/refresh", headers=bearer(first["refresh_token"])).status_code == 401
    assert client.get(ME, headers=second).status_code == 200
    assert client.get(ME, headers=login(client, "beta-user")).status_code == 200
    assert client.get(ME, headers=second).status_code == 200  # another user's login changes nothing


def test_refresh_gives_a_working_access_token(app, client):
    tokens = post_login(client, "alpha-admin").get_json()
    resp = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert resp.status_code == 200
    access = resp.get_json()["access_token"]
    assert client.get(ME, headers=bearer(access)).get_json()["user"]["username"] == "alpha-admin"
    with app.app_context():
        old, new = decode_token(tokens["access_token"]), decode_token(access)
    assert (new["tid"], new["ep"], new["role"]) == (old["tid"], old["ep"], old["role"])
    # each kind of token only where it belongs
    wrong_kind = client.post("/api/v1/auth/refresh", headers=bearer(tokens["access_token"]))
    assert wrong_kind.status_code == 401 and set(wrong_kind.get_json()) == {"code", "message", "errors"}
    assert client.get(ME, headers=bearer(tokens["refresh_token"])).status_code == 401


def test_logout_revokes_the_access_and_refresh_tokens(client, api_engine):
    tokens = post_login(client, "alpha-user").get_json()
    other = login(client, "alpha-user")
    resp = client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]),
                       json={"refresh_token": tokens["refresh_token"]})
    assert resp.status_code == 200 and resp.get_json() == {"revoked": 1}  # their session
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 401
    assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code == 401
    assert client.get(ME, headers=other).status_code == 200  # another session of the same user lives on
    assert len(audit_rows(api_engine, "auth.logout")) == 1


def test_logout_refuses_someone_elses_refresh_token(client):
    mine = login(client, "alpha-user")
    theirs = post_login(client, "beta-user").get_json()
    for token in (theirs["refresh_token"], theirs["access_token"], "not-a-token"):
        resp = client.post("/api/v1/auth/logout", headers=mine, json={"refresh_token": token})
        assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "refresh_token"
    assert client.get(ME, headers=bearer(theirs["access_token"])).status_code == 200
    assert client.get(ME, headers=mine).status_code == 200  # nothing was revoked


def test_missing_or_garbage_tokens_get_the_error_shape(client):
    for headers in ({}, {"Authorization": "Bearer garbage"}, {"Authorization": "Basic abc"}):
        resp = client.get(ME, headers=headers)
        assert resp.status_code == 401
        assert resp.get_json()["code"] == "unauthorized" and resp.get_json()["message"]


# -- roles --------------------------------------------------------------------------------------

def two_role_user(engine: Engine) -> None:
    with engine.db.read() as s:
        alpha = s.scalars(select(Tenant.id).where(Tenant.code == "alpha")).one()
    create_user(engine, username="alpha-lead", password=NEW_PASSWORD, tenant_id=alpha,
                roles=["approver", "tenant_user"], actor="test")


def test_switch_role_issues_tokens_for_a_held_role(app, client, api_engine):
    two_role_user(api_engine)
    headers = login(client, "alpha-lead", NEW_PASSWORD)
    me = client.get(ME, headers=headers).get_json()
    assert me["roles"] == ["approver", "tenant_user"] and me["active_role"] is None
    assert me["data_scopes"] == {"approver": "org_and_below", "tenant_user": "mine"}

    resp = client.post("/api/v1/auth/switch-role", headers=headers, json={"role": "tenant_user"})
    assert resp.status_code == 200
    tokens = resp.get_json()
    with app.app_context():
        assert decode_token(tokens["access_token"])["role"] == "tenant_user"
        assert decode_token(tokens["refresh_token"])["role"] == "tenant_user"
    me = client.get(ME, headers=bearer(tokens["access_token"])).get_json()
    assert me["active_role"] == "tenant_user" and me["data_scopes"] == {"tenant_user": "mine"}
    assert "user:read" not in me["permissions"]  # the approver's extra permission is not in play
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).get_json()
    with app.app_context():
        assert decode_token(refreshed["access_token"])["role"] == "tenant_user"

    # remembered for the next login; null goes back to all roles
    again = login(client, "alpha-lead", NEW_PASSWORD)
    assert client.get(ME, headers=again).get_json()["active_role"] == "tenant_user"
    back = client.post("/api/v1/auth/switch-role", headers=again, json={"role": None})
    assert back.status_code == 200
    assert client.get(ME, headers=bearer(back.get_json()["access_token"])).get_json()["active_role"] is None
    assert [r.detail["to"] for r in audit_rows(api_engine, "auth.switch-role")] == ["tenant_user", None]


def test_switch_role_refuses_a_role_not_held(client, api_engine):
    headers = login(client, "alpha-user")
    for role in ("approver", "platform_admin", "no-such-role"):
        resp = client.post("/api/v1/auth/switch-role", headers=headers, json={"role": role})
        assert resp.status_code == 403 and resp.get_json()["code"] == "forbidden"
    assert client.post("/api/v1/auth/switch-role", headers=headers, json={}).status_code == 422
    assert client.post("/api/v1/auth/switch-role", json={"role": "approver"}).status_code == 401
    assert audit_rows(api_engine, "auth.switch-role") == []


def test_a_token_acting_as_a_removed_role_stops_working(client, api_engine):
    two_role_user(api_engine)
    headers = login(client, "alpha-lead", NEW_PASSWORD)
    acting = client.post("/api/v1/auth/switch-role", headers=headers, json={"role": "approver"}).get_json()
    with api_engine.db.write() as s:
        user = s.scalars(select(User).where(User.username == "alpha-lead")).one()
        approver = s.scalars(select(Role).where(Role.code == "approver", Role.tenant_id.is_(None))).one()
        s.delete(s.get(UserRole, (user.id, approver.id)))
    assert client.get(ME, headers=bearer(acting["access_token"])).status_code == 401
    me = client.get(ME, headers=headers).get_json()  # the token acting as all roles goes on, with fewer
    assert me["roles"] == ["tenant_user"]


# -- principal_for_token ------------------------------------------------------------------------

def test_principal_for_token_refuses_stale_or_forged_claims(app, client, api_engine):
    tokens = post_login(client, "alpha-approver").get_json()
    with app.app_context():
        claims = decode_token(tokens["access_token"])
    principal = principal_for_token(api_engine, claims)
    assert principal is not None and principal.username == "alpha-approver"
    assert principal.roles == ("approver",) and principal.tenant_id == claims["tid"]
    assert principal.organization_id == user_row(api_engine, "alpha-approver").organization_id

    assert principal_for_token(api_engine, {**claims, "ep": claims["ep"] - 1}) is None
    assert principal_for_token(api_engine, {**claims, "tid": None}) is None
    assert principal_for_token(api_engine, {**claims, "sub": "no-such-user"}) is None
    assert principal_for_token(api_engine, {**claims, "role": "tenant_admin"}) is None
    assert principal_for_token(api_engine, {k: v for k, v in claims.items() if k != "ep"}) is None
    set_user(api_engine, "alpha-approver", enabled=False)
    assert principal_for_token(api_engine, claims) is None


# -- audit ----------------------------------------------------------------------------------------

def test_every_auth_event_is_in_a_verifiable_audit_chain(client, api_engine):
    two_role_user(api_engine)
    post_login(client, "alpha-lead", "Wrong-Passw0rd!")
    tokens = post_login(client, "alpha-lead", NEW_PASSWORD).get_json()
    switched = client.post("/api/v1/auth/switch-role", headers=bearer(tokens["access_token"]),
                           json={"role": "approver"}, environ_base={"REMOTE_ADDR": "10.1.2.3"}).get_json()
    out = client.post("/api/v1/auth/logout", headers=bearer(switched["access_token"]),
                      environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert out.status_code == 200
    client.post("/api/v1/auth/password", json={"username": "alpha-lead", "password": NEW_PASSWORD,
                                               "new_password": "Third-Secret-99"},
                environ_base={"REMOTE_ADDR": "10.1.2.3"})

    lead = user_row(api_engine, "alpha-lead")
    mine = [r for r in audit_rows(api_engine) if r.target_id == lead.id]
    assert [r.action for r in mine] == ["user.create", "auth.login-failed", "auth.login", "auth.switch-role",
                                        "auth.logout", "auth.password-change"]
    assert all(r.ip == "10.1.2.3" for r in mine[1:])
    assert all(r.tenant_id == lead.tenant_id for r in mine)
    with api_engine.db.read() as s:
        result = audit.verify(s)
    assert result.ok and result.checked == len(audit_rows(api_engine))


# -- seed -----------------------------------------------------------------------------------------

def test_seed_is_idempotent_and_generates_one_password(tmp_path, monkeypatch):
    from engine.models import BusinessSystem, BusinessSystemMember, Organization
    from engine.roles import BUILTIN_ROLES
    from seed import seed

    monkeypatch.delenv("AICMP_DEMO_PASSWORD", raising=False)
    eng = Engine(Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'seed.db'}", argon2_profile="test"))
    try:
        said: list[str] = []
        first = seed(eng, announce=said.append)
        password = first.generated_password
        assert password and len(said) == 1 and password in said[0]
        assert set(first.users_created) == {"admin", "operator", "designer", "alpha-admin", "alpha-approver",
                                            "alpha-user", "beta-admin", "beta-user"}
        again = seed(eng, announce=said.append)
        assert (again.users_created, again.roles_created, again.tenants_created, again.organizations_created,
                again.generated_password) == ([], [], [], [], None)
        assert len(said) == 1  # shown once

        for username in first.users_created:
            assert authenticate(eng, username, password).user_id
        with eng.db.read() as s:
            assert all(password not in u.password_hash for u in s.scalars(select(User)))
            roles = {r.code: r for r in s.scalars(select(Role).where(Role.tenant_id.is_(None)))}
            assert set(roles) == {b.code for b in BUILTIN_ROLES} and all(r.builtin for r in roles.values())
            assert roles["approver"].data_scope == "org_and_below"
            for tenant in s.scalars(select(Tenant)):
                orgs = list(s.scalars(select(Organization).where(Organization.tenant_id == tenant.id)))
                (root,) = [o for o in orgs if o.parent_id is None]
                assert root.path == f"/{root.id}/" and len(orgs) == 3
                assert all(o.path == f"/{root.id}/{o.id}/" for o in orgs if o is not root)
                assert s.scalar(select(BusinessSystem.id).where(BusinessSystem.tenant_id == tenant.id))
            members = s.execute(select(User.username).join(BusinessSystemMember,
                                                           BusinessSystemMember.user_id == User.id)).scalars()
            assert set(members) == {"alpha-approver", "alpha-user", "beta-user"}
            held = dict(s.execute(select(User.username, Role.code).join(UserRole, UserRole.user_id == User.id)
                                  .join(Role, Role.id == UserRole.role_id)).all())
        assert held == {"admin": "platform_admin", "operator": "platform_operator", "designer": "process_designer",
                        "alpha-admin": "tenant_admin", "alpha-approver": "approver", "alpha-user": "tenant_user",
                        "beta-admin": "tenant_admin", "beta-user": "tenant_user"}
    finally:
        eng.close()


def test_seed_refuses_a_demo_password_that_breaks_the_policy(tmp_path):
    from seed import seed

    eng = Engine(Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'seed.db'}", argon2_profile="test"))
    try:
        with pytest.raises(InvalidInput) as err:
            seed(eng, demo_password="short", announce=None)
        assert err.value.errors[0]["field"] == "AICMP_DEMO_PASSWORD"
    finally:
        eng.close()
