"""An upgraded install: ``aicmp serve`` on a database seeded by an older version brings the built-in
roles (new permissions of new features) and the product processes up to this version, and keeps
everything else as it was."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.config import Settings
from engine.core import Engine
from engine.models import ProcessDefinition, Role, Tenant
from tests.api.conftest import make_api_engine


def test_start_brings_built_in_roles_and_product_processes_up_to_date(tmp_path, monkeypatch):
    var = tmp_path / "var"
    engine = make_api_engine(f"sqlite:///{var / 'aicmp.db'}", var)
    with engine.db.write() as s:  # as an older version left it: a role without a newer permission
        operator = s.scalars(select(Role).where(Role.code == "platform_operator", Role.tenant_id.is_(None))).one()
        operator.permissions = [p for p in operator.permissions if p != "billing:read"]
        tenants = s.scalar(select(func.count()).select_from(Tenant))
    with engine.db.read() as s:
        versions = s.scalar(select(func.count()).select_from(ProcessDefinition))
    engine.close()

    from api import server

    monkeypatch.setenv("AICMP_VAR_DIR", str(var))
    monkeypatch.setenv("AICMP_ARGON2_PROFILE", "test")
    monkeypatch.delenv("AICMP_DATABASE_URL", raising=False)
    server.prepare()
    again = Engine(Settings(var_dir=var, database_url=f"sqlite:///{var / 'aicmp.db'}"))  # no seeding
    try:
        with again.db.read() as s:
            operator = s.scalars(select(Role).where(Role.code == "platform_operator", Role.tenant_id.is_(None))).one()
            assert "billing:read" in operator.permissions
            assert s.scalar(select(func.count()).select_from(Tenant)) == tenants  # no demo data added
            assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == versions  # same files
    finally:
        again.close()
