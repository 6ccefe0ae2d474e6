"""Token hygiene: logout ends the whole session (its refresh token too), refresh tokens rotate, and a
rotated refresh token presented again ends every token of its login and is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_jwt_extended import decode_token
from sqlalchemy import select

from engine import audit, clock
from engine.identity import principal_for_token
from engine.maintenance import expire_records
from engine.models import AuditEntry, AuthSession
from tests.api.conftest import DEMO_PASSWORD

LOGIN, REFRESH, LOGOUT, ME = "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/auth/me"


def tokens_for(client, username: str = "alpha-user") -> dict[str, str]:
    resp = client.post(LOGIN, json={"username": username, "password": DEMO_PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def works(client, access: str) -> bool:
    return client.get(ME, headers=bearer(access)).status_code == 200


def refreshed(client, refresh: str):
    return client.post(REFRESH, headers=bearer(refresh))


def test_refresh_after_logout_is_refused(client):
    """Logout with just the access token ends the refresh token of the same login too."""
    tokens = tokens_for(client)
    other = tokens_for(client)  # another login of the same user
    assert client.post(LOGOUT, headers=bearer(tokens["access_token"]), json={}).get_json() == {"revoked": 1}
    resp = refreshed(client, tokens["refresh_token"])
    assert resp.status_code == 401 and resp.get_json()["code"] == "unauthorized"
    assert not works(client, tokens["access_token"])
    assert works(client, other["access_token"]) and refreshed(client, other["refresh_token"]).status_code == 200


def test_a_refresh_rotates_the_refresh_token(app, client):
    first = tokens_for(client)
    resp = refreshed(client, first["refresh_token"])
    assert resp.status_code == 200
    second = resp.get_json()
    assert set(second) == {"access_token", "refresh_token"} and second["refresh_token"] != first["refresh_token"]
    with app.app_context():
        old, new = decode_token(first["refresh_token"]), decode_token(second["refresh_token"])
    assert new["type"] == "refresh" and new["sid"] == old["sid"] and new["jti"] != old["jti"]
    assert works(client, second["access_token"]) and works(client, first["access_token"])  # within its 30 minutes
    third = refreshed(client, second["refresh_token"])
    assert third.status_code == 200 and works(client, third.get_json()["access_token"])


def test_reusing_a_rotated_refresh_token_ends_its_whole_login(client, api_engine):
    first = tokens_for(client)
    bystander = tokens_for(client)  # another login of the same user is not touched
    second = refreshed(client, first["refresh_token"]).get_json()
    third = refreshed(client, second["refresh_token"]).get_json()

    reuse = client.post(REFRESH, headers=bearer(first["refresh_token"]), environ_base={"REMOTE_ADDR": "10.6.6.6"})
    assert reuse.status_code == 401 and "used already" in reuse.get_json()["message"]
    for token in (first, second, third):  # every token descended from that login
        assert not works(client, token["access_token"])
    assert refreshed(client, third["refresh_token"]).status_code == 401  # the newest one too
    assert works(client, bystander["access_token"])
    assert refreshed(client, bystander["refresh_token"]).status_code == 200

    with api_engine.db.read() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.refresh-reuse")))
        assert audit.verify(s).ok
    assert len(rows) == 1 and rows[0].actor == "alpha-user" and rows[0].ip == "10.6.6.6"
    assert refreshed(client, first["refresh_token"]).status_code == 401  # the session stays ended


def test_role_switch_tokens_belong_to_the_login(client):
    tokens = tokens_for(client, "alpha-approver")
    switched = client.post("/api/v1/auth/switch-role", headers=bearer(tokens["access_token"]),
                           json={"role": "approver"}).get_json()
    assert works(client, switched["access_token"])
    assert client.post(LOGOUT, headers=bearer(switched["access_token"]), json={}).get_json() == {"revoked": 1}
    assert not works(client, tokens["access_token"])
    assert refreshed(client, tokens["refresh_token"]).status_code == 401
    assert refreshed(client, switched["refresh_token"]).status_code == 401


def test_tokens_without_a_live_session_are_refused(app, client, api_engine):
    tokens = tokens_for(client)
    with app.app_context():
        claims = decode_token(tokens["access_token"])
    assert principal_for_token(api_engine, claims) is not None
    legacy = {k: v for k, v in claims.items() if k != "sid"}  # issued before sessions existed
    assert principal_for_token(api_engine, legacy) is None
    assert principal_for_token(api_engine, {**claims, "sid": "no-such-session"}) is None


def test_ended_and_expired_sessions_are_purged(client, api_engine, frozen_clock):
    tokens = tokens_for(client)
    client.post(LOGOUT, headers=bearer(tokens["access_token"]), json={})
    with api_engine.db.read() as s:
        assert s.scalar(select(AuthSession.revoked_at)) is not None
    expire_records(api_engine)
    with api_engine.db.read() as s:
        assert len(list(s.scalars(select(AuthSession)))) == 1  # kept until its tokens would expire anyway
    frozen_clock.set(clock.Clock().now() + timedelta(days=api_engine.settings.refresh_token_days, minutes=1))
    expire_records(api_engine)
    with api_engine.db.read() as s:
        assert list(s.scalars(select(AuthSession))) == []


@pytest.mark.postgres
def test_two_refreshes_racing_with_one_token_end_the_login(pg_app):
    """Whichever order they run in, one refresh wins and the other is a reuse that ends the session."""
    import threading

    tokens = tokens_for(pg_app.test_client())
    barrier = threading.Barrier(2)
    answers: list = []

    def use() -> None:
        client = pg_app.test_client()
        barrier.wait()
        answers.append(refreshed(client, tokens["refresh_token"]))

    threads = [threading.Thread(target=use) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(r.status_code for r in answers) == [200, 401]
    winner = next(r.get_json() for r in answers if r.status_code == 200)
    client = pg_app.test_client()
    assert not works(client, winner["access_token"]) and refreshed(client, winner["refresh_token"]).status_code == 401
