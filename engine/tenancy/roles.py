"""Roles: the built-in ones (listed, never edited or deleted) and each tenant's custom roles.

A custom role is a set of permissions from ``engine.roles.PERMISSIONS`` (or ``resource:*``) plus a
data scope. Nobody can put into a role, or assign, permissions they do not hold themselves, and
the tenant-lifecycle permissions stay with platform staff. Policy rows follow the Role/UserRole
rows automatically (engine.authz_policy) in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session

from engine import audit
from engine.authz import expand, split_permission
from engine.errors import Conflict, NotFound
from engine.models import Role, User, UserRole
from engine.principal import Principal
from engine.roles import BUILTIN_ROLES, DATA_SCOPES, PERMISSIONS, PLATFORM_ROLES, TENANT_ROLES, builtin
from engine.tenancy.access import PermissionDenied, acting_tenant, field_error, load

if TYPE_CHECKING:
    from engine.core import Engine

PLATFORM_ONLY = frozenset({"tenant:create", "tenant:update", "tenant:delete"})
CODE = re.compile(r"^[a-z][a-z0-9_-]{1,63}$")
_RESOURCES = frozenset(p.split(":")[0] for p in PERMISSIONS)


def ensure_builtin_roles(session: Session) -> list[Role]:
    """Create or refresh the built-in Role rows from engine.roles (idempotent; for seeding)."""
    rows = {r.code: r for r in session.scalars(select(Role).where(Role.tenant_id.is_(None), Role.builtin))}
    out = []
    for spec in BUILTIN_ROLES:
        row = rows.get(spec.code) or Role(tenant_id=None, code=spec.code, builtin=True)
        row.name, row.permissions, row.data_scope = spec.name, list(spec.permissions), spec.data_scope
        session.add(row)
        out.append(row)
    session.flush()
    return out


def _visible(principal: Principal) -> Any:
    """Roles a principal may see: built-ins for its side of the platform and its tenant's custom roles."""
    if principal.tenant_id is None:
        return true()
    return or_(Role.tenant_id == principal.tenant_id, and_(Role.builtin.is_(True), Role.code.in_(TENANT_ROLES)))


def check_permissions(permissions: Iterable[str]) -> list[str]:
    """Validate the permission names of a custom role (422 naming each bad entry)."""
    wanted = list(dict.fromkeys(permissions))
    problems = []
    for p in wanted:
        try:
            obj, act = split_permission(p)
        except ValueError:
            problems.append(f"{p!r} is not 'resource:action'")
            continue
        if obj == "*" or (act == "*" and obj not in _RESOURCES) or (act != "*" and p not in PERMISSIONS):
            problems.append(f"unknown permission {p!r}")
        elif PLATFORM_ONLY.intersection(expand(p)):
            problems.append(f"{p!r} includes tenant lifecycle permissions, which only platform roles hold")
    if problems:
        raise field_error("permissions", "; ".join(problems))
    if not wanted:
        raise field_error("permissions", "a role needs at least one permission")
    return wanted


def no_escalation(engine: Engine, principal: Principal, permissions: Iterable[str], what: str) -> None:
    missing = [p for pattern in permissions for p in expand(pattern) if not engine.authorizer.allowed(principal, p)]
    if missing:
        raise PermissionDenied(f"{what} grants permissions you do not hold: {', '.join(sorted(set(missing)))}")


def list_roles(engine: Engine, principal: Principal, *, tenant_id: str | None = None, builtin_only: bool | None = None,
               q: str | None = None, offset: int = 0, limit: int = 20) -> tuple[list[Role], int]:
    clauses = [_visible(principal)]
    if tenant_id is not None:
        clauses.append(or_(Role.tenant_id == tenant_id, Role.builtin))
    if builtin_only is not None:
        clauses.append(Role.builtin.is_(builtin_only))
    if q:
        clauses.append(or_(Role.code.contains(q), Role.name.contains(q)))
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(Role).where(*clauses)) or 0
        rows = list(s.scalars(select(Role).where(*clauses).order_by(Role.builtin.desc(), Role.code, Role.id)
                              .offset(offset).limit(limit)))
    return rows, total


def _load_role(s: Session, principal: Principal, role_id: str, *, lock: bool = False) -> Role:
    q = select(Role).where(Role.id == role_id, _visible(principal))
    role = s.scalars(q.with_for_update() if lock else q).first()
    if role is None:
        raise NotFound(f"role {role_id} not found")
    return role


def get_role(engine: Engine, principal: Principal, role_id: str) -> Role:
    with engine.db.read() as s:
        return _load_role(s, principal, role_id)


def _describe(role: Role) -> dict[str, Any]:
    return {"code": role.code, "name": role.name, "permissions": role.permissions, "data_scope": role.data_scope}


def _check_scope(data_scope: str) -> None:
    if data_scope not in DATA_SCOPES:
        raise field_error("data_scope", f"must be one of {', '.join(DATA_SCOPES)}")


def create_role(engine: Engine, principal: Principal, *, code: str, name: str, permissions: Iterable[str],
                data_scope: str, tenant_id: str | None = None, ip: str | None = None) -> Role:
    if not CODE.match(code):
        raise field_error("code", "lower-case letters, digits, '_' and '-', starting with a letter (2-64)")
    if builtin(code) is not None:
        raise Conflict(f"{code!r} is a built-in role code", errors=[{"field": "code", "message": "is built in"}])
    _check_scope(data_scope)
    perms = check_permissions(permissions)
    no_escalation(engine, principal, perms, "the role")
    with engine.db.write() as s:
        tenant = acting_tenant(s, principal, tenant_id)
        if s.scalar(select(Role.id).where(Role.tenant_id == tenant, Role.code == code)) is not None:
            raise Conflict(f"role {code!r} already exists", errors=[{"field": "code", "message": "is taken"}])
        role = Role(tenant_id=tenant, code=code, name=name, builtin=False, permissions=perms, data_scope=data_scope)
        s.add(role)
        s.flush()
        audit.record(s, action="role.create", actor=principal.username, tenant_id=tenant, target_type="role",
                     target_id=role.id, detail=_describe(role), ip=ip)
    return role


def update_role(engine: Engine, principal: Principal, role_id: str, *, name: str | None = None,
                permissions: Iterable[str] | None = None, data_scope: str | None = None,
                ip: str | None = None) -> Role:
    perms = check_permissions(permissions) if permissions is not None else None
    if perms is not None:
        no_escalation(engine, principal, perms, "the role")
    if data_scope is not None:
        _check_scope(data_scope)
    with engine.db.write() as s:
        role = _load_role(s, principal, role_id, lock=True)
        if role.builtin:
            raise Conflict(f"built-in role {role.code!r} cannot be changed")
        before = _describe(role)
        if name is not None:
            role.name = name
        if perms is not None:
            role.permissions = perms
        if data_scope is not None:
            role.data_scope = data_scope
        s.flush()
        audit.record(s, action="role.update", actor=principal.username, tenant_id=role.tenant_id, target_type="role",
                     target_id=role.id, detail={"before": before, "after": _describe(role)}, ip=ip)
    return role


def delete_role(engine: Engine, principal: Principal, role_id: str, *, ip: str | None = None) -> None:
    with engine.db.write() as s:
        role = _load_role(s, principal, role_id, lock=True)
        if role.builtin:
            raise Conflict(f"built-in role {role.code!r} cannot be deleted")
        holders = s.scalar(select(func.count()).select_from(UserRole).where(UserRole.role_id == role.id)) or 0
        if holders:
            raise Conflict(f"role {role.code!r} is assigned to {holders} user(s); unassign it first")
        audit.record(s, action="role.delete", actor=principal.username, tenant_id=role.tenant_id, target_type="role",
                     target_id=role.id, detail=_describe(role), ip=ip)
        s.delete(role)


# -- assignments ------------------------------------------------------------------------------------

def _user(s: Session, principal: Principal, user_id: str, *, lock: bool = False) -> User:
    return load(s, principal, User, user_id, "user", lock=lock)


def roles_of(engine: Engine, principal: Principal, user_id: str) -> list[Role]:
    with engine.db.read() as s:
        user = _user(s, principal, user_id)
        return list(s.scalars(select(Role).join(UserRole, UserRole.role_id == Role.id)
                              .where(UserRole.user_id == user.id).order_by(Role.code)))


def _fits(role: Role, user: User) -> None:
    if role.builtin:
        side = PLATFORM_ROLES if user.tenant_id is None else TENANT_ROLES
        if role.code not in side:
            who = "platform staff" if user.tenant_id is None else "tenant users"
            raise Conflict(f"role {role.code!r} cannot be held by {who}")
    elif role.tenant_id != user.tenant_id:
        raise NotFound(f"role {role.id} not found")


def assign(engine: Engine, principal: Principal, user_id: str, role_id: str, *, ip: str | None = None) -> Role:
    """Give the user the role (no-op when held already)."""
    with engine.db.write() as s:
        user = _user(s, principal, user_id, lock=True)
        role = _load_role(s, principal, role_id)
        _fits(role, user)
        no_escalation(engine, principal, role.permissions, f"role {role.code!r}")
        if s.get(UserRole, (user.id, role.id)) is None:
            s.add(UserRole(user_id=user.id, role_id=role.id))
            s.flush()
            audit.record(s, action="role.assign", actor=principal.username, tenant_id=user.tenant_id,
                         target_type="user", target_id=user.id, detail={"role": role.code, "role_id": role.id}, ip=ip)
    return role


def unassign(engine: Engine, principal: Principal, user_id: str, role_id: str, *, ip: str | None = None) -> None:
    """Take the role away; a user acting as it falls back to all remaining roles."""
    with engine.db.write() as s:
        user = _user(s, principal, user_id, lock=True)
        role = _load_role(s, principal, role_id)
        held = s.get(UserRole, (user.id, role.id))
        if held is None:
            raise NotFound(f"user {user.username!r} does not hold role {role.code!r}")
        no_escalation(engine, principal, role.permissions, f"role {role.code!r}")
        s.delete(held)
        if user.active_role == role.code:
            user.active_role = None
        s.flush()
        audit.record(s, action="role.unassign", actor=principal.username, tenant_id=user.tenant_id,
                     target_type="user", target_id=user.id, detail={"role": role.code, "role_id": role.id}, ip=ip)
