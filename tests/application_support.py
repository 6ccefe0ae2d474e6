"""Shared by the application tests (engine and HTTP): the permissions applications need.

engine/roles.py does not grant these yet (requested in the report of "REST API, part 2"); until
it does, ``grant_application_permissions`` adds them to the built-in role rows of a seeded
database, exactly as the seed would once roles.py lists them. Afterwards it changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.core import Engine
from engine.models import Role

APPLICATION_PERMISSIONS = {
    "platform_operator": ("catalog:read", "catalog:manage", "application:read", "application:manage",
                          "site-message:read"),
    "process_designer": ("catalog:read", "site-message:read"),
    "tenant_admin": ("catalog:read", "application:create", "application:read", "application:manage",
                     "site-message:read"),
    "approver": ("catalog:read", "application:create", "application:read", "site-message:read"),
    "tenant_user": ("catalog:read", "application:create", "application:read", "site-message:read"),
}


def grant_application_permissions(engine: Engine) -> None:
    with engine.db.write() as s:
        for role in s.scalars(select(Role).where(Role.tenant_id.is_(None))):
            missing = [p for p in APPLICATION_PERMISSIONS.get(role.code, ()) if p not in role.permissions]
            if missing:
                role.permissions = [*role.permissions, *missing]
    engine.authorizer.mark_stale()
