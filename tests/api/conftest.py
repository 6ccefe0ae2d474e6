"""API test fixtures: a seeded engine, the Flask app and its test client, and a login helper.

Add new fixtures in their own clearly marked section below; keep each section self-contained.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from engine import clock
from engine.clock import FrozenClock
from engine.config import Settings
from engine.core import Engine
from seed import seed

# =============================================================================================
# Auth: seeded engine, app, client, login.
#
#   DEMO_PASSWORD          the password of every seeded demo user (admin, operator, designer,
#                          alpha-admin, alpha-approver, alpha-user, beta-admin, beta-user)
#   make_api_engine(url, tmp_path, **settings)  an Engine on url, migrated and seeded
#   api_overrides          (function) Settings overrides, {} by default; change them per test with
#                          @pytest.mark.parametrize("api_overrides", [{"single_session": True}])
#   api_engine             (function) SQLite in tmp_path, seeded
#   app / client           (function) create_app(engine=api_engine) and its test client
#   pg_api_engine / pg_app / pg_client   the same on a fresh PostgreSQL database (mark the
#                          test @pytest.mark.postgres)
#   frozen_clock           (function) a FrozenClock installed process-wide, restored afterwards
#   login(client, username, password=DEMO_PASSWORD, tenant=None) -> {"Authorization": "Bearer ..."}
#
# argon2 runs with the cheap "test" profile here (Settings.argon2_profile); production keeps
# argon2-cffi's standard parameters.
# =============================================================================================

DEMO_PASSWORD = "Demo-Passw0rd!"


def make_api_engine(url: str, tmp_path: Path, **settings: Any) -> Engine:
    settings.setdefault("argon2_profile", "test")
    eng = Engine(Settings(var_dir=tmp_path, database_url=url, **settings))
    seed(eng, demo_password=DEMO_PASSWORD, announce=None)
    return eng


def login(client: FlaskClient, username: str, password: str = DEMO_PASSWORD, tenant: str | None = None
          ) -> dict[str, str]:
    """Log in through the real endpoint; the headers to send as that user."""
    body: dict[str, Any] = {"username": username, "password": password}
    if tenant is not None:
        body["tenant"] = tenant
    resp = client.post("/api/v1/auth/login", json=body)
    assert resp.status_code == 200, f"login as {username} failed: {resp.status_code} {resp.get_json()}"
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


@pytest.fixture
def api_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def api_engine(tmp_path: Path, api_overrides: dict[str, Any]) -> Iterator[Engine]:
    eng = make_api_engine(f"sqlite:///{tmp_path / 'aicmp.db'}", tmp_path, **api_overrides)
    yield eng
    eng.close()


@pytest.fixture
def app(api_engine: Engine) -> Flask:
    return create_app(engine=api_engine)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def pg_api_engine(postgres_database_url: str, tmp_path: Path, api_overrides: dict[str, Any]) -> Iterator[Engine]:
    eng = make_api_engine(postgres_database_url, tmp_path, **api_overrides)
    yield eng
    eng.close()


@pytest.fixture
def pg_app(pg_api_engine: Engine) -> Flask:
    return create_app(engine=pg_api_engine)


@pytest.fixture
def pg_client(pg_app: Flask) -> FlaskClient:
    return pg_app.test_client()


@pytest.fixture
def frozen_clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock()
    previous = clock.use(frozen)
    try:
        yield frozen
    finally:
        clock.use(previous)


# ============================================================================================= end auth


# =============================================================================================
# Tenancy: ids of the seeded demo objects.
#
#   demo(api_engine) -> Demo: .tenant[code], .org[(tenant code, org code)],
#                         .system[(tenant code, system code)], .user[username]  (ids)
# =============================================================================================

class Demo:
    """Ids of the seeded tenants, organisations, business systems and users."""

    def __init__(self, engine: Engine) -> None:
        from sqlalchemy import select

        from engine.models import BusinessSystem, Organization, Tenant, User

        with engine.db.read() as s:
            self.tenant = {t.code: t.id for t in s.scalars(select(Tenant))}
            codes = {v: k for k, v in self.tenant.items()}
            self.org = {(codes[o.tenant_id], o.code): o.id for o in s.scalars(select(Organization))}
            self.system = {(codes[b.tenant_id], b.code): b.id for b in s.scalars(select(BusinessSystem))}
            self.user = {u.username: u.id for u in s.scalars(select(User))}


@pytest.fixture
def demo(api_engine: Engine) -> Demo:
    return Demo(api_engine)


# ============================================================================================= end tenancy


# =============================================================================================
# Applications (REST API part 2): the seeded engine with application permissions and quotas.
#
#   shop (function) -> Shop over `client`/`api_engine`:
#       .client, .engine; .headers(username) logs in once per user and keeps the headers;
#       .tenant[code], .org[(tenant code, org code)], .system[tenant code] (its business system),
#       .spec(product code, spec code) -> spec id from the seeded demo catalog (seed/catalog.py);
#       .set_quota(tenant code, levels=(None, "hq", <child>), **totals) through the quota API;
#       .quota(tenant code, org code or None, dimension) -> {"in_process", "used", ...} via the API.
#   alpha gets vcpu 1000, memory_gib 16384, disk_gib 100000, gpus 16, instances 20, eips 20 at the
#   tenant, hq and research.
# =============================================================================================

class Shop:
    CHILD = {"alpha": "research", "beta": "lab"}

    def __init__(self, client: FlaskClient, engine: Engine) -> None:
        from sqlalchemy import select

        from engine.domains.catalog.models import Product, ProductSpec
        from engine.models import BusinessSystem, Organization, Tenant

        self.client, self.engine = client, engine
        self._headers: dict[str, dict[str, str]] = {}
        with engine.db.read() as s:
            self.tenant = {t.code: t.id for t in s.scalars(select(Tenant))}
            codes = {v: k for k, v in self.tenant.items()}
            self.org = {(codes[o.tenant_id], o.code): o.id for o in s.scalars(select(Organization))}
            self.system = {codes[b.tenant_id]: b.id for b in s.scalars(select(BusinessSystem))}
            self._specs = {(p, sp): i for p, sp, i in s.execute(
                select(Product.code, ProductSpec.code, ProductSpec.id).join(ProductSpec,
                                                                            ProductSpec.product_id == Product.id))}

    def headers(self, username: str) -> dict[str, str]:
        if username not in self._headers:
            self._headers[username] = login(self.client, username)
        return self._headers[username]

    def spec(self, product: str, spec: str) -> str:
        return self._specs[product, spec]

    def set_quota(self, tenant: str, levels: tuple[str | None, ...] = (), **totals: Any) -> None:
        admin = self.headers("admin")
        body = {"totals": {k: str(v) for k, v in totals.items()}}
        for level in levels or (None, "hq", self.CHILD[tenant]):
            url = (f"/api/v1/tenants/{self.tenant[tenant]}/quota" if level is None
                   else f"/api/v1/organizations/{self.org[tenant, level]}/quota")
            resp = self.client.put(url, json=body, headers=admin)
            assert resp.status_code == 200, resp.get_json()

    def quota(self, tenant: str, org: str | None, dimension: str) -> dict[str, str]:
        url = (f"/api/v1/tenants/{self.tenant[tenant]}/quota" if org is None
               else f"/api/v1/organizations/{self.org[tenant, org]}/quota")
        resp = self.client.get(url, headers=self.headers("admin"))
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()["dimensions"][dimension]


@pytest.fixture
def shop(client: FlaskClient, api_engine: Engine) -> Shop:
    s = Shop(client, api_engine)
    s.set_quota("alpha", vcpu=1000, memory_gib=16384, disk_gib=100000, gpus=16, instances=20, eips=20)
    return s


# ============================================================================================= end applications
