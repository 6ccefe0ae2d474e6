"""Business systems: each belongs to one organisation; members come from any organisation of its tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from engine import audit
from engine.errors import NotFound
from engine.models import BusinessSystem, BusinessSystemMember, Organization, User
from engine.principal import Principal
from engine.tenancy.access import acting_tenant, check_code, load
from engine.tenancy.organizations import scoped as org_scoped
from engine.tenancy.scope import scope_where

if TYPE_CHECKING:
    from engine.core import Engine



def scoped(engine: Engine, principal: Principal, permission: str) -> list[Any]:
    """``mine`` and ``my_systems``: the systems the principal is a member of."""
    return scope_where(engine.authorizer, principal, permission, BusinessSystem, business_system=BusinessSystem.id,
                       creator=None)


def describe(b: BusinessSystem) -> dict[str, Any]:
    return {"code": b.code, "name": b.name, "organization_id": b.organization_id}


def _load(s: Session, engine: Engine, principal: Principal, system_id: str, permission: str, *,
          lock: bool = False) -> BusinessSystem:
    return load(s, principal, BusinessSystem, system_id, "business system", lock=lock,
                where=scoped(engine, principal, permission))


def _organization(s: Session, engine: Engine, principal: Principal, tenant_id: str, org_id: str,
                  permission: str) -> Organization:
    org = load(s, principal, Organization, org_id, "organization", where=org_scoped(engine, principal, permission))
    if org.tenant_id != tenant_id:
        raise NotFound(f"organization {org_id} not found")
    return org


def list_business_systems(engine: Engine, principal: Principal, *, tenant_id: str | None = None,
                          organization_id: str | None = None, member: str | None = None, q: str | None = None,
                          offset: int = 0, limit: int = 20) -> tuple[list[BusinessSystem], int]:
    """``member``: only systems that user id belongs to."""
    clauses = scoped(engine, principal, "business-system:read")
    if tenant_id is not None:
        clauses.append(BusinessSystem.tenant_id == tenant_id)
    if organization_id is not None:
        clauses.append(BusinessSystem.organization_id == organization_id)
    if member is not None:
        clauses.append(BusinessSystem.id.in_(select(BusinessSystemMember.business_system_id)
                                             .where(BusinessSystemMember.user_id == member)))
    if q:
        clauses.append(or_(BusinessSystem.code.contains(q), BusinessSystem.name.contains(q)))
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(BusinessSystem).where(*clauses)) or 0
        rows = list(s.scalars(select(BusinessSystem).where(*clauses).order_by(BusinessSystem.code)
                              .offset(offset).limit(limit)))
    return rows, total


def get_business_system(engine: Engine, principal: Principal, system_id: str) -> BusinessSystem:
    with engine.db.read() as s:
        return _load(s, engine, principal, system_id, "business-system:read")


def create_business_system(engine: Engine, principal: Principal, *, code: str, name: str, organization_id: str,
                           tenant_id: str | None = None, ip: str | None = None) -> BusinessSystem:
    with engine.db.write() as s:
        org_tenant = s.scalar(select(Organization.tenant_id).where(Organization.id == organization_id))
        tenant = acting_tenant(s, principal, tenant_id or (org_tenant if principal.is_platform else None))
        org = _organization(s, engine, principal, tenant, organization_id, "business-system:create")
        check_code(s, BusinessSystem, tenant, code, "business system")
        system = BusinessSystem(tenant_id=tenant, organization_id=org.id, code=code, name=name)
        s.add(system)
        s.flush()
        audit.record(s, action="business-system.create", actor=principal.username, tenant_id=tenant,
                     target_type="business-system", target_id=system.id, detail=describe(system), ip=ip)
    return system


def update_business_system(engine: Engine, principal: Principal, system_id: str, *, name: str | None = None,
                           code: str | None = None, organization_id: str | None = None,
                           ip: str | None = None) -> BusinessSystem:
    with engine.db.write() as s:
        system = _load(s, engine, principal, system_id, "business-system:update", lock=True)
        before = describe(system)
        if code is not None and code != system.code:
            check_code(s, BusinessSystem, system.tenant_id, code, "business system", exclude=system.id)
            system.code = code
        if name is not None:
            system.name = name
        if organization_id is not None and organization_id != system.organization_id:
            system.organization_id = _organization(s, engine, principal, system.tenant_id, organization_id,
                                                   "business-system:update").id
        s.flush()
        audit.record(s, action="business-system.update", actor=principal.username, tenant_id=system.tenant_id,
                     target_type="business-system", target_id=system.id,
                     detail={"before": before, "after": describe(system)}, ip=ip)
    return system


def delete_business_system(engine: Engine, principal: Principal, system_id: str, *, ip: str | None = None) -> None:
    with engine.db.write() as s:
        system = _load(s, engine, principal, system_id, "business-system:delete", lock=True)
        s.execute(delete(BusinessSystemMember).where(BusinessSystemMember.business_system_id == system.id))
        audit.record(s, action="business-system.delete", actor=principal.username, tenant_id=system.tenant_id,
                     target_type="business-system", target_id=system.id, detail=describe(system), ip=ip)
        s.delete(system)


# -- members ----------------------------------------------------------------------------------------

def members(engine: Engine, principal: Principal, system_id: str, *, offset: int = 0,
            limit: int = 20) -> tuple[list[User], int]:
    with engine.db.read() as s:
        system = _load(s, engine, principal, system_id, "business-system:read")
        q = (select(User).join(BusinessSystemMember, BusinessSystemMember.user_id == User.id)
             .where(BusinessSystemMember.business_system_id == system.id))
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        return list(s.scalars(q.order_by(User.username).offset(offset).limit(limit))), total


def add_member(engine: Engine, principal: Principal, system_id: str, user_id: str, *, ip: str | None = None) -> User:
    """Add a user of the same tenant (no-op when a member already)."""
    with engine.db.write() as s:
        system = _load(s, engine, principal, system_id, "business-system:update", lock=True)
        user = s.get(User, user_id)
        if user is None or user.tenant_id != system.tenant_id:
            raise NotFound(f"user {user_id} not found")
        if s.get(BusinessSystemMember, (system.id, user.id)) is None:
            s.add(BusinessSystemMember(business_system_id=system.id, user_id=user.id, tenant_id=system.tenant_id))
            s.flush()
            audit.record(s, action="business-system.member-add", actor=principal.username, tenant_id=system.tenant_id,
                         target_type="business-system", target_id=system.id,
                         detail={"user_id": user.id, "username": user.username}, ip=ip)
    return user


def remove_member(engine: Engine, principal: Principal, system_id: str, user_id: str, *, ip: str | None = None) -> None:
    with engine.db.write() as s:
        system = _load(s, engine, principal, system_id, "business-system:update", lock=True)
        row = s.get(BusinessSystemMember, (system.id, user_id))
        if row is None:
            raise NotFound(f"user {user_id} is not a member of business system {system.code!r}")
        s.delete(row)
        audit.record(s, action="business-system.member-remove", actor=principal.username, tenant_id=system.tenant_id,
                     target_type="business-system", target_id=system.id, detail={"user_id": user_id}, ip=ip)
