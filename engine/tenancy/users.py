"""Users: one organisation each (platform staff: none), created with a password, enabled/disabled,
password reset by an administrator. Hashing, the password policy and the user invariants are
engine.identity's; this module adds who may do it to whom (tenant, data scope, no escalation).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine import audit, identity
from engine.errors import Conflict, NotFound
from engine.models import Organization, Role, User, UserRole
from engine.principal import Principal
from engine.tenancy.access import PermissionDenied, acting_tenant, field_error, load
from engine.tenancy.organizations import scoped as org_scoped
from engine.tenancy.roles import no_escalation
from engine.tenancy.scope import scope_where

if TYPE_CHECKING:
    from engine.core import Engine

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,99}$")


def scoped(engine: Engine, principal: Principal, permission: str) -> list[Any]:
    """``org_and_below``: users of those organisations; ``mine``: the principal itself."""
    return scope_where(engine.authorizer, principal, permission, User, owner=User.id, creator=None)


def describe(u: User) -> dict[str, Any]:
    return {"username": u.username, "display_name": u.display_name, "email": u.email,
            "organization_id": u.organization_id, "enabled": u.enabled}


def _load(s: Session, engine: Engine, principal: Principal, user_id: str, permission: str, *,
          lock: bool = False) -> User:
    return load(s, principal, User, user_id, "user", lock=lock, where=scoped(engine, principal, permission))


def role_codes(s: Session, user_ids: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    q = (select(UserRole.user_id, Role.code).join(Role, Role.id == UserRole.role_id)
         .where(UserRole.user_id.in_(list(user_ids))).order_by(Role.code))
    for uid, code in s.execute(q):
        out.setdefault(uid, []).append(code)
    return out


def list_users(engine: Engine, principal: Principal, *, tenant_id: str | None = None,
               organization_id: str | None = None, enabled: bool | None = None, role: str | None = None,
               q: str | None = None, offset: int = 0, limit: int = 20) -> tuple[list[User], int, dict[str, list[str]]]:
    """A page of users, the total, and each listed user's role codes."""
    clauses = scoped(engine, principal, "user:read")
    if tenant_id is not None:
        clauses.append(User.tenant_id == tenant_id)
    if organization_id is not None:
        clauses.append(User.organization_id == organization_id)
    if enabled is not None:
        clauses.append(User.enabled.is_(enabled))
    if role is not None:
        clauses.append(User.id.in_(select(UserRole.user_id).join(Role, Role.id == UserRole.role_id)
                                   .where(Role.code == role)))
    if q:
        clauses.append(or_(User.username.contains(q), User.display_name.contains(q), User.email.contains(q)))
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(User).where(*clauses)) or 0
        rows = list(s.scalars(select(User).where(*clauses).order_by(User.username).offset(offset).limit(limit)))
        return rows, total, role_codes(s, [u.id for u in rows])


def get_user(engine: Engine, principal: Principal, user_id: str) -> tuple[User, list[str]]:
    with engine.db.read() as s:
        user = _load(s, engine, principal, user_id, "user:read")
        return user, role_codes(s, [user.id]).get(user.id, [])


def _organization(s: Session, engine: Engine, principal: Principal, tenant_id: str, org_id: str,
                  permission: str) -> Organization:
    org = load(s, principal, Organization, org_id, "organization", where=org_scoped(engine, principal, permission))
    if org.tenant_id != tenant_id:
        raise NotFound(f"organization {org_id} not found")
    return org


def _role_permissions(s: Session, tenant_id: str | None, codes: list[str]) -> list[str]:
    return [p for r in identity.roles_by_code(s, tenant_id, codes) for p in r.permissions]


def create_user(engine: Engine, principal: Principal, *, username: str, password: str,
                organization_id: str | None = None, tenant_id: str | None = None, platform: bool = False,
                display_name: str = "", email: str | None = None, roles: Iterable[str] = (),
                ip: str | None = None) -> tuple[User, list[str]]:
    """A tenant user (``organization_id`` required) or, by platform staff with ``platform=True``, a
    platform staff member (no organisation)."""
    if not USERNAME.match(username):
        raise field_error("username", "2-100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    codes = list(dict.fromkeys(roles))
    if platform and principal.tenant_id is not None:
        raise PermissionDenied("only platform staff create platform staff")
    password_hash = identity.prepare_password(engine.settings, password, field="password", username=username)
    with engine.db.write() as s:
        if platform:
            tenant, org_id = None, None
            if organization_id is not None:
                raise field_error("organization_id", "platform staff belong to no organisation")
        else:
            if organization_id is None:
                raise field_error("organization_id", "every tenant user belongs to one organisation")
            org_tenant = s.scalar(select(Organization.tenant_id).where(Organization.id == organization_id))
            tenant = acting_tenant(s, principal, tenant_id or (org_tenant if principal.is_platform else None))
            org_id = _organization(s, engine, principal, tenant, organization_id, "user:create").id
        no_escalation(engine, principal, _role_permissions(s, tenant, codes), "these roles")
        user = identity.insert_user(s, username=username, password_hash=password_hash, tenant_id=tenant,
                                    organization_id=org_id, roles=codes, display_name=display_name, email=email)
        audit.record(s, action="user.create", actor=principal.username, tenant_id=tenant, target_type="user",
                     target_id=user.id, detail={**describe(user), "roles": codes}, ip=ip)
    return user, sorted(codes)


def update_user(engine: Engine, principal: Principal, user_id: str, *, display_name: str | None = None,
                email: str | None = None, organization_id: str | None = None, enabled: bool | None = None,
                ip: str | None = None) -> tuple[User, list[str]]:
    """Edit a user; disabling also ends every session it has (its session epoch moves)."""
    with engine.db.write() as s:
        user = _load(s, engine, principal, user_id, "user:update", lock=True)
        before = describe(user)
        if display_name is not None:
            user.display_name = display_name
        if email is not None:
            user.email = email or None
        if organization_id is not None and organization_id != user.organization_id:
            if user.tenant_id is None:
                raise field_error("organization_id", "platform staff belong to no organisation")
            user.organization_id = _organization(s, engine, principal, user.tenant_id, organization_id,
                                                 "user:update").id
        action = "user.update"
        if enabled is not None and enabled != user.enabled:
            if not enabled and user.id == principal.user_id:
                raise Conflict("you cannot disable yourself")
            user.enabled = enabled
            action = "user.enable" if enabled else "user.disable"
            if not enabled:
                user.session_epoch += 1
        s.flush()
        audit.record(s, action=action, actor=principal.username, tenant_id=user.tenant_id, target_type="user",
                     target_id=user.id, detail={"before": before, "after": describe(user)}, ip=ip)
        return user, role_codes(s, [user.id]).get(user.id, [])


def reset_password(engine: Engine, principal: Principal, user_id: str, new_password: str, *,
                   ip: str | None = None) -> None:
    """An administrator sets a new password (policy checked; the user's sessions end; audited)."""
    with engine.db.read() as s:
        _load(s, engine, principal, user_id, "user:reset-password")
    identity.reset_password(engine, user_id, new_password, tenant_id=principal.tenant_id, actor=principal.username,
                            ip=ip)
