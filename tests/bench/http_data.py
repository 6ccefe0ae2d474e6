"""Benchmark data for bench_http: a migrated, seeded database plus many extra tenants, inserted in bulk.

Each extra tenant ``benchNNNN`` gets one organisation (its root), one business system, a tenant user
``benchNNNN-user`` and an approver ``benchNNNN-approver`` in that organisation, and quotas at the tenant
and the organisation large enough that every submit fits (approved flows keep their quota as used).
Rows go in with Core ``executemany`` (one argon2 hash reused for every user) and the Casbin policy rows
are rebuilt once afterwards with ``sync_all``, exactly as a bulk change of roles must be.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

TENANT_PREFIX = "bench"
QUOTA_TOTAL = Decimal(10_000_000)  # per dimension, far more than any run books
BATCH = 2000


@dataclass(frozen=True)
class BenchTenant:
    """One preloaded tenant: who applies, who approves, where."""

    code: str
    user: str
    approver: str
    business_system_id: str


def _batched(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        conn.execute(insert(table), rows[start:start + BATCH])


def _rows(n: int, password_hash: str, role_ids: dict[str, str]) -> tuple[dict[str, list[dict[str, Any]]],
                                                                          list[BenchTenant]]:
    """Every row of ``n`` tenants, by table name; and the tenants as the clients see them."""
    from engine import clock
    from engine.models.base import new_id
    from engine.models.tenancy import QUOTA_DIMENSIONS

    now = clock.now()
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in (
        "tenants", "organizations", "business_systems", "users", "user_roles", "business_system_members", "quotas")}
    tenants = []
    for i in range(n):
        code = f"{TENANT_PREFIX}{i:04d}"
        tid, oid, bid = new_id(), new_id(), new_id()
        out["tenants"].append({"id": tid, "code": code, "name": f"Bench tenant {i}"})
        out["organizations"].append({"id": oid, "tenant_id": tid, "parent_id": None, "code": "hq",
                                     "name": f"{code} HQ", "path": f"/{oid}/"})
        out["business_systems"].append({"id": bid, "tenant_id": tid, "organization_id": oid, "code": "training",
                                        "name": f"{code} training"})
        for suffix, role in (("user", "tenant_user"), ("approver", "approver")):
            uid = new_id()
            out["users"].append({"id": uid, "tenant_id": tid, "organization_id": oid, "username": f"{code}-{suffix}",
                                 "display_name": f"{code}-{suffix}", "email": None, "password_hash": password_hash,
                                 "password_changed_at": now})
            out["user_roles"].append({"user_id": uid, "role_id": role_ids[role]})
            out["business_system_members"].append({"business_system_id": bid, "user_id": uid, "tenant_id": tid})
        for org in (None, oid):
            out["quotas"].extend({"id": new_id(), "tenant_id": tid, "organization_id": org, "dimension": dim,
                                  "total": QUOTA_TOTAL} for dim in QUOTA_DIMENSIONS)
        tenants.append(BenchTenant(code, f"{code}-user", f"{code}-approver", bid))
    return out, tenants


def prepare_database(url: str, var_dir: Path, password: str, tenants: int) -> list[BenchTenant]:
    """Migrate and seed ``url`` (demo users with ``password``, demo quotas), then add ``tenants`` tenants."""
    from engine.authz import sync_all
    from engine.config import Settings
    from engine.core import Engine
    from engine.identity import hash_password
    from engine.models import BusinessSystem, BusinessSystemMember, Organization, Quota, Role, Tenant, User, UserRole
    from seed import seed

    eng = Engine(Settings(var_dir=var_dir, database_url=url))  # migrates
    try:
        seed(eng, demo_password=password, announce=None, demo_quota=True)
        with eng.db.read() as s:
            role_ids = dict(s.execute(select(Role.code, Role.id).where(Role.tenant_id.is_(None))).all())
        rows, bench = _rows(tenants, hash_password(eng.settings, password), role_ids)
        with eng.db.write() as s:
            conn = s.connection()  # Core on the session's connection: one transaction, no ORM events
            for model in (Tenant, Organization, BusinessSystem, User, UserRole, BusinessSystemMember, Quota):
                _batched(conn, model.__table__, rows[model.__tablename__])
            sync_all(s)  # the Casbin rows of the new user roles, and a new policy version
        if eng.db.engine.dialect.name == "postgresql":
            with eng.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        return bench
    finally:
        eng.close()


def spec_code() -> tuple[str, str]:
    """The product and spec every flow orders (one small VM: cheap on the quota)."""
    return "vm-general", "small"
