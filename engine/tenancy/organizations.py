"""Organisations: one tree per tenant, ``path`` = "/<root id>/.../<own id>/" (see engine.models.tenancy).

Create under a parent (or as a top-level organisation), rename, move under another parent (only a
subtree that holds no quota: quotas are carved out of the old parent), delete only when empty:
no child organisations, users or business systems, and no quota in use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine import audit
from engine.errors import Conflict, NotFound
from engine.models import BusinessSystem, Organization, Quota, User
from engine.models.base import new_id
from engine.principal import Principal
from engine.tenancy.access import acting_tenant, check_code, field_error, load
from engine.tenancy.scope import scope_where

if TYPE_CHECKING:
    from engine.core import Engine

KEEP: Any = object()  # "leave the parent as it is" (None means: make it a top-level organisation)


def scoped(engine: Engine, principal: Principal, permission: str) -> list[Any]:
    """Which organisations the principal reaches with ``permission`` (``mine``: its own)."""
    return scope_where(engine.authorizer, principal, permission, Organization, organization=Organization.id,
                       business_system=None, creator=None)


def describe(o: Organization) -> dict[str, Any]:
    return {"code": o.code, "name": o.name, "parent_id": o.parent_id, "path": o.path}


def _load(s: Session, engine: Engine, principal: Principal, org_id: str, permission: str, *,
          lock: bool = False) -> Organization:
    return load(s, principal, Organization, org_id, "organization", lock=lock,
                where=scoped(engine, principal, permission))


def list_organizations(engine: Engine, principal: Principal, *, tenant_id: str | None = None,
                       parent_id: str | None = None, top_level: bool | None = None, under: str | None = None,
                       q: str | None = None, offset: int = 0, limit: int = 20) -> tuple[list[Organization], int]:
    """``under``: only that organisation's subtree (itself included)."""
    clauses = scoped(engine, principal, "organization:read")
    if tenant_id is not None:
        clauses.append(Organization.tenant_id == tenant_id)
    if parent_id is not None:
        clauses.append(Organization.parent_id == parent_id)
    if top_level is not None:
        clauses.append(Organization.parent_id.is_(None) if top_level else Organization.parent_id.isnot(None))
    if q:
        clauses.append(or_(Organization.code.contains(q), Organization.name.contains(q)))
    with engine.db.read() as s:
        if under is not None:
            root = _load(s, engine, principal, under, "organization:read")
            clauses.append(Organization.path.startswith(root.path, autoescape=True))
        total = s.scalar(select(func.count()).select_from(Organization).where(*clauses)) or 0
        rows = list(s.scalars(select(Organization).where(*clauses).order_by(Organization.path)
                              .offset(offset).limit(limit)))
    return rows, total


def get_organization(engine: Engine, principal: Principal, org_id: str) -> Organization:
    with engine.db.read() as s:
        return _load(s, engine, principal, org_id, "organization:read")


def create_organization(engine: Engine, principal: Principal, *, code: str, name: str, parent_id: str | None = None,
                        tenant_id: str | None = None, ip: str | None = None) -> Organization:
    with engine.db.write() as s:
        if parent_id is not None:
            parent = _load(s, engine, principal, parent_id, "organization:create")
            tenant = acting_tenant(s, principal, tenant_id or parent.tenant_id)
            if parent.tenant_id != tenant:
                raise NotFound(f"organization {parent_id} not found")
        else:
            tenant = acting_tenant(s, principal, tenant_id)
            parent = None
            if "all" not in engine.authorizer.scopes(principal, "organization:create"):
                raise field_error("parent_id", "your data scope lets you create organisations only under your own")
        check_code(s, Organization, tenant, code, "organisation")
        org_id = new_id()
        org = Organization(id=org_id, tenant_id=tenant, parent_id=parent.id if parent else None, code=code, name=name,
                           path=f"{parent.path if parent else '/'}{org_id}/")
        s.add(org)
        s.flush()
        audit.record(s, action="organization.create", actor=principal.username, tenant_id=tenant,
                     target_type="organization", target_id=org.id, detail=describe(org), ip=ip)
    return org


def _subtree(s: Session, org: Organization) -> list[Organization]:
    return list(s.scalars(select(Organization).where(Organization.tenant_id == org.tenant_id,
                                                     Organization.path.startswith(org.path, autoescape=True))))


def _move(s: Session, engine: Engine, principal: Principal, org: Organization, parent_id: str | None) -> None:
    parent = None
    if parent_id is not None:
        parent = _load(s, engine, principal, parent_id, "organization:update")
        if parent.tenant_id != org.tenant_id:
            raise NotFound(f"organization {parent_id} not found")
        if parent.path.startswith(org.path):
            raise Conflict("an organisation cannot move under itself or one of its descendants")
    elif "all" not in engine.authorizer.scopes(principal, "organization:update"):
        raise field_error("parent_id", "your data scope does not reach the top of the tree")
    subtree = _subtree(s, org)
    ids = [o.id for o in subtree]
    held = s.scalar(select(func.count()).select_from(Quota).where(
        Quota.organization_id.in_(ids), (Quota.total != 0) | (Quota.used != 0) | (Quota.in_process != 0))) or 0
    if held:
        raise Conflict("only an organisation whose subtree holds no quota can move; set those quotas to 0 first")
    old, new = org.path, f"{parent.path if parent else '/'}{org.id}/"
    for node in subtree:
        node.path = new + node.path[len(old):]
    org.parent_id = parent.id if parent else None


def update_organization(engine: Engine, principal: Principal, org_id: str, *, name: str | None = None,
                        code: str | None = None, parent_id: Any = KEEP, ip: str | None = None) -> Organization:
    with engine.db.write() as s:
        org = _load(s, engine, principal, org_id, "organization:update", lock=True)
        before = describe(org)
        if code is not None and code != org.code:
            check_code(s, Organization, org.tenant_id, code, "organisation", exclude=org.id)
            org.code = code
        if name is not None:
            org.name = name
        moved = parent_id is not KEEP and parent_id != org.parent_id
        if moved:
            _move(s, engine, principal, org, parent_id)
        s.flush()
        audit.record(s, action="organization.move" if moved else "organization.update", actor=principal.username,
                     tenant_id=org.tenant_id, target_type="organization", target_id=org.id,
                     detail={"before": before, "after": describe(org)}, ip=ip)
    return org


def delete_organization(engine: Engine, principal: Principal, org_id: str, *, ip: str | None = None) -> None:
    with engine.db.write() as s:
        org = _load(s, engine, principal, org_id, "organization:delete", lock=True)
        counts = {
            "child organisations": s.scalar(select(func.count()).select_from(Organization)
                                             .where(Organization.parent_id == org.id)) or 0,
            "users": s.scalar(select(func.count()).select_from(User).where(User.organization_id == org.id)) or 0,
            "business systems": s.scalar(select(func.count()).select_from(BusinessSystem)
                                         .where(BusinessSystem.organization_id == org.id)) or 0,
        }
        held = {k: v for k, v in counts.items() if v}
        if held:
            listed = ", ".join(f"{v} {k}" for k, v in held.items())
            raise Conflict(f"organisation {org.code!r} still has {listed}; only an empty organisation can be deleted",
                           errors=[{"field": k, "message": f"{v} remain"} for k, v in held.items()])
        quotas = list(s.scalars(select(Quota).where(Quota.organization_id == org.id).with_for_update()))
        in_use = sorted(q.dimension for q in quotas if q.used or q.in_process)
        if in_use:
            raise Conflict(f"organisation {org.code!r} has quota in use ({', '.join(in_use)}); release it first")
        for q in quotas:
            s.delete(q)
        audit.record(s, action="organization.delete", actor=principal.username, tenant_id=org.tenant_id,
                     target_type="organization", target_id=org.id,
                     detail={**describe(org), "released": {q.dimension: q.total for q in quotas if q.total}}, ip=ip)
        s.delete(org)
