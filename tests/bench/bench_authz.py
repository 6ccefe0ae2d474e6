"""Authorization benchmark: how long ``Authorizer.allowed`` takes with ~1k and ~10k policy rules.

    .venv/bin/python -m tests.bench.bench_authz [--roles 90 900]

``bulk_policy`` (also used by tests/engine/access/test_authz_engine.py, which checks the decisions are
right) creates custom roles spread over 50 tenants with one user each; the report gives the
policy load time and the median ``allowed()`` for Casbin itself (no decision cache) and for the
cached path, allow and deny.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from engine.authz import Authorizer
from engine.models import Role, Tenant, User, UserRole
from engine.models.tenancy import CasbinRule
from engine.principal import Principal
from engine.roles import PERMISSIONS


def bulk_policy(engine: Any, custom_roles: int, perms_each: int) -> int:
    """``custom_roles`` custom roles spread over 50 tenants, one user holding each: the p and g rows."""
    with engine.db.write() as s:
        tenants = [Tenant(id=f"t-{i}", code=f"bulk{i}", name=f"Bulk {i}") for i in range(50)]
        s.add_all(tenants)
        s.flush()
        for i in range(custom_roles):
            tenant = tenants[i % 50].id
            role = Role(tenant_id=tenant, code=f"r{i}", name="r", permissions=list(PERMISSIONS[:perms_each]),
                        data_scope="all")
            user = User(username=f"bulk{i}", password_hash="-", tenant_id=tenant)
            s.add_all([role, user])
            s.flush()
            s.add(UserRole(user_id=user.id, role_id=role.id))
        s.flush()
        return s.scalar(select(func.count()).select_from(CasbinRule)) or 0


def measure(engine: Any, who: Principal, rules: int) -> str:
    cold = Authorizer(engine.db, cache_decisions=False)
    warm = engine.authorizer
    started = time.perf_counter()
    cold.reload()
    load_ms = (time.perf_counter() - started) * 1000

    def sample(auth: Authorizer, permission: str, n: int = 300) -> float:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            auth.allowed(who, permission)
            times.append((time.perf_counter() - t0) * 1e6)
        return statistics.median(times)

    results = {"casbin allow": sample(cold, PERMISSIONS[3]), "casbin deny": sample(cold, "task:work"),
               "cached allow": sample(warm, PERMISSIONS[3]), "cached deny": sample(warm, "task:work")}
    return (f"{rules} policy rules: load {load_ms:.0f} ms; median allowed() "
            + ", ".join(f"{k} {v:.1f} us" for k, v in results.items()))


def main(argv: list[str] | None = None) -> None:
    from engine.config import Settings
    from engine.core import Engine
    from engine.tenancy import roles as role_admin

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--roles", type=int, nargs="+", default=[90, 900], help="custom roles (11 rules each)")
    args = ap.parse_args(argv)
    for count in args.roles:
        with tempfile.TemporaryDirectory() as tmp:
            eng = Engine(Settings(var_dir=Path(tmp), database_url=f"sqlite:///{tmp}/bench.db"))
            try:
                with eng.db.write() as s:
                    role_admin.ensure_builtin_roles(s)
                rules = bulk_policy(eng, count, 10)
                with eng.db.write() as s:
                    user = User(username="measured", password_hash="-", tenant_id="t-7")
                    s.add(user)
                    s.flush()
                    role = s.scalars(select(Role).where(Role.code == "r7", Role.tenant_id == "t-7")).one()
                    s.add(UserRole(user_id=user.id, role_id=role.id))
                    who = Principal(user.id, "measured", "t-7", None, ("r7",))
                print(measure(eng, who, rules))
            finally:
                eng.close()


if __name__ == "__main__":
    main()
