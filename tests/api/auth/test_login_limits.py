"""Login limits (engine.identity.throttle): an address hammering logins gets 429 with Retry-After,
shared through the database by every worker, and a single hostile address can never lock an
account: its owner, from another address, still gets in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from api import create_app
from engine.config import Settings
from engine.core import Engine
from engine.maintenance import expire_records
from engine.models import AuditEntry, LoginFailure, User
from tests.api.conftest import DEMO_PASSWORD

LOGIN = "/api/v1/auth/login"
WRONG = "Wrong-Passw0rd!"
HOSTILE, HOME = "203.0.113.66", "198.51.100.10"


def attempt(client, username: str, password: str = WRONG, address: str = HOSTILE):
    return client.post(LOGIN, json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def user(engine: Engine, username: str) -> User:
    with engine.db.read() as s:
        return s.scalars(select(User).where(User.username == username)).one()


def count(engine: Engine, model: Any, *where: Any) -> int:
    with engine.db.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_an_address_hammering_an_account_gets_429_and_the_owner_still_logs_in(client, api_engine, frozen_clock):
    settings = api_engine.settings
    assert (settings.login_account_limit, settings.login_window_minutes) == (3, 15)
    assert [attempt(client, "alpha-user").status_code for _ in range(3)] == [401] * 3
    throttled = attempt(client, "alpha-user")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == str(15 * 60)  # all three failures were at this instant
    body = throttled.get_json()
    assert body["code"] == "too_many_requests" and "try again in 900 seconds" in body["message"]
    assert set(body) == {"code", "message", "errors"}
    assert attempt(client, "alpha-user", DEMO_PASSWORD).status_code == 429  # even the right password
    for _ in range(20):
        assert attempt(client, "alpha-user").status_code == 429
    # the 429s checked nothing and counted nothing: three audited failures, no lock
    assert count(api_engine, AuditEntry, AuditEntry.action == "auth.login-failed") == 3
    assert user(api_engine, "alpha-user").locked_until is None

    assert attempt(client, "alpha-user", DEMO_PASSWORD, address=HOME).status_code == 200
    assert attempt(client, "alpha-user").status_code == 429  # the owner's login renews no one else's budget
    assert attempt(client, "alpha-approver", DEMO_PASSWORD).status_code == 200  # other accounts: not throttled

    frozen_clock.advance(timedelta(minutes=15) - timedelta(seconds=1))
    assert attempt(client, "alpha-user").headers["Retry-After"] == "1"
    frozen_clock.advance(timedelta(seconds=1))
    assert attempt(client, "alpha-user", DEMO_PASSWORD).status_code == 200  # the window has passed


def test_one_address_can_never_keep_an_account_locked(client, api_engine, frozen_clock):
    """However long it keeps trying, window after window, a single address never locks the account."""
    for _ in range(6):  # an hour and a half of hammering
        statuses = [attempt(client, "alpha-user").status_code for _ in range(10)]
        assert statuses == [401] * 3 + [429] * 7
        assert user(api_engine, "alpha-user").locked_until is None
        assert attempt(client, "alpha-user", DEMO_PASSWORD, address=HOME).status_code == 200
        frozen_clock.advance(timedelta(minutes=15, seconds=1))
    assert count(api_engine, AuditEntry, AuditEntry.action == "auth.login-failed",
                 AuditEntry.detail["reason"].as_string() == "locked") == 0


def test_unknown_usernames_are_throttled_alike(client):
    """The 429 tells nothing about which usernames exist."""
    for username in ("alpha-user", "nobody-at-all"):
        assert [attempt(client, username).status_code for _ in range(4)] == [401, 401, 401, 429]


@pytest.mark.parametrize("api_overrides", [{"login_address_limit": 4}])
def test_an_address_spraying_many_usernames_gets_429(client):
    names = ["alpha-user", "alpha-approver", "beta-user", "nobody", "admin"]
    assert [attempt(client, name).status_code for name in names] == [401, 401, 401, 401, 429]
    assert attempt(client, "admin", DEMO_PASSWORD).status_code == 429
    assert attempt(client, "admin", DEMO_PASSWORD, address=HOME).status_code == 200


def test_the_password_change_endpoint_is_throttled_too(client):
    body = {"username": "alpha-user", "password": WRONG, "new_password": "Fresh-Secret-42"}
    statuses = [client.post("/api/v1/auth/password", json=body, environ_base={"REMOTE_ADDR": HOSTILE}).status_code
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_a_successful_login_forgets_the_failures_from_its_address(client, api_engine):
    for _ in range(2):
        assert attempt(client, "alpha-user", address=HOME).status_code == 401
    assert attempt(client, "alpha-user").status_code == 401
    assert attempt(client, "alpha-user", DEMO_PASSWORD, address=HOME).status_code == 200
    assert count(api_engine, LoginFailure, LoginFailure.address == HOME) == 0
    assert count(api_engine, LoginFailure, LoginFailure.locking.is_(True)) == 0  # the lockout count restarts
    assert [attempt(client, "alpha-user", address=HOME).status_code for _ in range(4)] == [401, 401, 401, 429]
    assert [attempt(client, "alpha-user").status_code for _ in range(3)] == [401, 401, 429]


def test_the_counts_are_shared_by_every_worker(client, api_engine, tmp_path):
    """Another process on the same database (a second gunicorn worker, another API server) sees them."""
    other = Engine(Settings(var_dir=tmp_path, database_url=api_engine.settings.database_url, argon2_profile="test"))
    try:
        elsewhere = create_app(engine=other).test_client()
        for _ in range(3):
            assert attempt(client, "alpha-user").status_code == 401
        assert attempt(elsewhere, "alpha-user").status_code == 429
    finally:
        other.close()


def test_old_failures_are_purged(client, api_engine, frozen_clock):
    attempt(client, "alpha-user")
    assert expire_records(api_engine) == 0
    frozen_clock.advance(timedelta(minutes=15))
    assert expire_records(api_engine) == 1
    assert count(api_engine, LoginFailure) == 0


def test_the_limits_must_leave_a_lockout_to_several_addresses(tmp_path):
    base = {"var_dir": tmp_path, "database_url": "sqlite://"}
    with pytest.raises(ValueError, match="AICMP_LOGIN_ACCOUNT_LIMIT"):
        Settings(**base, login_account_limit=5)  # == lockout_failures: one address could lock
    assert Settings(**base, login_account_limit=5, lockout_minutes=0).login_account_limit == 5  # no lockout
    with pytest.raises(ValueError, match="at least 1"):
        Settings(**base, login_address_limit=0)
