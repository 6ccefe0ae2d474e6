"""Tenants: created, edited, enabled/disabled and deleted by platform staff; a tenant user sees its own.

A disabled tenant's users can no longer use their tokens (engine.identity checks the flag on every
request). Deleting is allowed only for an empty tenant: today that means no users and no process
instances, and generally no row of any table that references the tenant (deployments, and
applications, orders and resources as those tables appear) other than its own structure, which is
deleted with it: organisations, business systems, custom roles and quotas.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, delete, func, or_, select, update
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.errors import Conflict, NotFound
from engine.models import Base, BusinessSystem, BusinessSystemMember, Organization, Quota, Role, Tenant
from engine.principal import Principal
from engine.tenancy.access import PermissionDenied, field_error

if TYPE_CHECKING:
    from engine.core import Engine

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")
# Deleted together with the tenant; every other table that references tenants blocks the delete.
_STRUCTURE = frozenset({"tenants", "organizations", "business_systems", "business_system_members", "roles",
                        "quotas"})


def _platform_only(principal: Principal, tenant_id: str | None = None) -> None:
    if principal.tenant_id is not None:
        if tenant_id is not None and tenant_id != principal.tenant_id:
            raise NotFound(f"tenant {tenant_id} not found")
        raise PermissionDenied("only platform staff manage tenants")


def _load(s: Session, principal: Principal, tenant_id: str, *, lock: bool = False) -> Tenant:
    if principal.tenant_id is not None and tenant_id != principal.tenant_id:
        raise NotFound(f"tenant {tenant_id} not found")
    tenant = s.get(Tenant, tenant_id, with_for_update=lock)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    return tenant


def describe(t: Tenant) -> dict[str, Any]:
    return {"code": t.code, "name": t.name, "description": t.description, "enabled": t.enabled}


def list_tenants(engine: Engine, principal: Principal, *, enabled: bool | None = None, q: str | None = None,
                 offset: int = 0, limit: int = 20) -> tuple[list[Tenant], int]:
    clauses = []
    if principal.tenant_id is not None:
        clauses.append(Tenant.id == principal.tenant_id)
    if enabled is not None:
        clauses.append(Tenant.enabled.is_(enabled))
    if q:
        clauses.append(or_(Tenant.code.contains(q), Tenant.name.contains(q)))
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(Tenant).where(*clauses)) or 0
        rows = list(s.scalars(select(Tenant).where(*clauses).order_by(Tenant.code).offset(offset).limit(limit)))
    return rows, total


def get_tenant(engine: Engine, principal: Principal, tenant_id: str) -> Tenant:
    with engine.db.read() as s:
        return _load(s, principal, tenant_id)


def create_tenant(engine: Engine, principal: Principal, *, code: str, name: str, description: str = "",
                  enabled: bool = True, ip: str | None = None) -> Tenant:
    _platform_only(principal)
    if not CODE.match(code):
        raise field_error("code", "lower-case letters, digits, '_' and '-' (2-64)")
    with engine.db.write() as s:
        if s.scalar(select(Tenant.id).where(Tenant.code == code)) is not None:
            raise Conflict(f"tenant code {code!r} is taken", errors=[{"field": "code", "message": "is taken"}])
        tenant = Tenant(code=code, name=name, description=description, enabled=enabled)
        s.add(tenant)
        s.flush()
        audit.record(s, action="tenant.create", actor=principal.username, tenant_id=tenant.id, target_type="tenant",
                     target_id=tenant.id, detail=describe(tenant), ip=ip)
    return tenant


def update_tenant(engine: Engine, principal: Principal, tenant_id: str, *, name: str | None = None,
                  description: str | None = None, enabled: bool | None = None, ip: str | None = None) -> Tenant:
    _platform_only(principal, tenant_id)
    with engine.db.write() as s:
        tenant = _load(s, principal, tenant_id, lock=True)
        before = describe(tenant)
        for attr, value in (("name", name), ("description", description), ("enabled", enabled)):
            if value is not None:
                setattr(tenant, attr, value)
        tenant.updated_at = clock.now()
        action = "tenant.update"
        if enabled is not None and enabled != before["enabled"]:
            action = "tenant.enable" if enabled else "tenant.disable"
        audit.record(s, action=action, actor=principal.username, tenant_id=tenant.id, target_type="tenant",
                     target_id=tenant.id, detail={"before": before, "after": describe(tenant)}, ip=ip)
    return tenant


def _tenant_columns(table: Table) -> list:
    return [fk.parent for fk in table.foreign_keys
            if fk.column.table.name == "tenants" and (fk.ondelete or "").upper() != "CASCADE"]


def blockers(s: Session, tenant_id: str) -> dict[str, int]:
    """Rows outside the tenant's own structure that still reference it, counted per table."""
    found = {}
    for table in Base.metadata.sorted_tables:
        if table.name in _STRUCTURE:
            continue
        for column in _tenant_columns(table):
            count = s.scalar(select(func.count()).select_from(table).where(column == tenant_id)) or 0
            if count:
                found[table.name.replace("_", " ")] = count
    return found


def delete_tenant(engine: Engine, principal: Principal, tenant_id: str, *, ip: str | None = None) -> None:
    _platform_only(principal, tenant_id)
    with engine.db.write() as s:
        tenant = _load(s, principal, tenant_id, lock=True)
        held = blockers(s, tenant.id)
        if held:
            listed = ", ".join(f"{v} {k}" for k, v in held.items())
            raise Conflict(f"tenant {tenant.code!r} still has {listed}; a tenant can be deleted only when it has no "
                           "users, no process instances and nothing else that belongs to it",
                           errors=[{"field": k, "message": f"{v} remain"} for k, v in held.items()])
        s.execute(delete(Quota).where(Quota.tenant_id == tenant.id))
        s.execute(delete(BusinessSystemMember).where(BusinessSystemMember.tenant_id == tenant.id))
        s.execute(delete(BusinessSystem).where(BusinessSystem.tenant_id == tenant.id))
        s.execute(update(Organization).where(Organization.tenant_id == tenant.id).values(parent_id=None))
        s.execute(delete(Organization).where(Organization.tenant_id == tenant.id))
        for role in s.scalars(select(Role).where(Role.tenant_id == tenant.id)):
            s.delete(role)
        audit.record(s, action="tenant.delete", actor=principal.username, tenant_id=tenant.id, target_type="tenant",
                     target_id=tenant.id, detail=describe(tenant), ip=ip)
        s.delete(tenant)
