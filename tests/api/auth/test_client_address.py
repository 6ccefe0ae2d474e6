"""The client address (audit log, login limits): X-Forwarded-For counts only when the peer is a trusted
proxy (AICMP_TRUSTED_PROXIES), and then only the entries trusted proxies appended."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from sqlalchemy import select

from api.security import client_ip
from engine.config import Settings
from engine.models import AuditEntry
from tests.api.conftest import DEMO_PASSWORD

PROXIES = {"trusted_proxies": (ip_network("10.0.0.0/8"), ip_network("fd00::/8"))}


def login_ip(client, engine, address: str, forwarded: str | None) -> str | None:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    resp = client.post("/api/v1/auth/login", json={"username": "alpha-user", "password": DEMO_PASSWORD},
                       headers=headers, environ_base={"REMOTE_ADDR": address})
    assert resp.status_code == 200
    with engine.db.read() as s:
        return s.scalars(select(AuditEntry.ip).where(AuditEntry.action == "auth.login")
                         .order_by(AuditEntry.id.desc())).first()


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored(client, api_engine):
    assert api_engine.settings.trusted_proxies == ()
    assert login_ip(client, api_engine, "203.0.113.5", "198.51.100.1") == "203.0.113.5"
    assert login_ip(client, api_engine, "10.0.0.2", "198.51.100.1") == "10.0.0.2"  # no proxy is trusted by default


@pytest.mark.parametrize("api_overrides", [PROXIES])
def test_a_trusted_proxys_header_is_believed(client, api_engine):
    assert login_ip(client, api_engine, "10.0.0.2", "198.51.100.1") == "198.51.100.1"
    # what the client itself wrote (left of the first untrusted address) is not believed
    assert login_ip(client, api_engine, "10.0.0.2", "6.6.6.6, 198.51.100.1, 10.1.1.1") == "198.51.100.1"
    assert login_ip(client, api_engine, "203.0.113.5", "198.51.100.1") == "203.0.113.5"  # untrusted peer


@pytest.mark.parametrize("api_overrides", [PROXIES])
@pytest.mark.parametrize(("peer", "headers", "expected"), [
    ("10.0.0.2", [], "10.0.0.2"),  # a proxy that forwarded nothing
    ("10.0.0.2", ["10.0.0.3, 10.0.0.4"], "10.0.0.3"),  # trusted all the way: the left-most
    ("10.0.0.2", ["1.1.1.1", "198.51.100.1"], "198.51.100.1"),  # several header lines are one list
    ("10.0.0.2", ["not-an-address"], "10.0.0.2"),  # garbage: the last address a trusted proxy vouched for
    ("10.0.0.2", ["198.51.100.1, ,"], "10.0.0.2"),
    ("::ffff:10.0.0.2", ["198.51.100.1"], "198.51.100.1"),  # an IPv4-mapped peer
    ("fd00::1", ["2001:db8::7"], "2001:db8::7"),
    ("fd00::1", ["::ffff:198.51.100.1"], "198.51.100.1"),
])
def test_the_right_most_untrusted_address_is_the_client(app, peer, headers, expected):
    with app.test_request_context(environ_base={"REMOTE_ADDR": peer},
                                  headers=[("X-Forwarded-For", h) for h in headers]):
        assert client_ip() == expected


@pytest.mark.parametrize("api_overrides", [PROXIES])
def test_clients_behind_a_trusted_proxy_have_their_own_login_budgets(client):
    def attempt(forwarded: str, password: str = "Wrong-Passw0rd!") -> int:
        return client.post("/api/v1/auth/login", json={"username": "alpha-user", "password": password},
                           headers={"X-Forwarded-For": forwarded}, environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code

    assert [attempt("198.51.100.66") for _ in range(4)] == [401, 401, 401, 429]
    assert attempt("198.51.100.10", DEMO_PASSWORD) == 200


def test_the_setting_takes_addresses_and_networks(monkeypatch, tmp_path):
    monkeypatch.setenv("AICMP_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7 ,::1")
    settings = Settings(var_dir=tmp_path, database_url="sqlite://")
    assert settings.trusted_proxies == (ip_network("10.0.0.0/8"), ip_network("192.168.1.7/32"), ip_network("::1/128"))
    monkeypatch.setenv("AICMP_TRUSTED_PROXIES", "10.0.0.0/8,proxy.example")
    with pytest.raises(ValueError, match="AICMP_TRUSTED_PROXIES"):
        Settings(var_dir=tmp_path, database_url="sqlite://")
