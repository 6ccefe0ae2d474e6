"""Creating users, assigning roles and resetting passwords (the policy is checked on each).

Authorization (who may create whom, in which tenant) is the caller's job; these functions keep
the invariants every user must satisfy: a unique username, a password that meets the policy
(stored only as an argon2 hash), and roles that fit the user's side of the platform (platform
roles for staff, tenant roles for tenant users).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.errors import Conflict, InvalidInput, NotFound
from engine.identity import throttle
from engine.identity.passwords import prepare_password
from engine.models import Organization, Role, Tenant, User, UserRole
from engine.principal import Principal
from engine.roles import PLATFORM_ROLES

if TYPE_CHECKING:
    from engine.core import Engine


def roles_by_code(session: Session, tenant_id: str | None, codes: Iterable[str], *,
                  field: str = "roles") -> list[Role]:
    """The Role rows for ``codes`` that a user of ``tenant_id`` may hold (built-in or the tenant's own)."""
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return []
    scope = Role.tenant_id.is_(None) if tenant_id is None else or_(Role.tenant_id.is_(None),
                                                                      Role.tenant_id == tenant_id)
    found = {r.code: r for r in session.scalars(select(Role).where(Role.code.in_(wanted), scope))}
    problems = []
    for code in wanted:
        role = found.get(code)
        if role is None:
            problems.append(f"unknown role {code!r}")
        elif tenant_id is None and code not in PLATFORM_ROLES:
            problems.append(f"role {code!r} is for tenant users; platform staff hold platform roles only")
        elif tenant_id is not None and code in PLATFORM_ROLES:
            problems.append(f"role {code!r} is for platform staff only")
    if problems:
        raise InvalidInput(f"{field}: {'; '.join(problems)}", errors=[{"field": field, "message": p} for p in problems])
    return [found[c] for c in wanted]


def insert_user(session: Session, *, username: str, password_hash: str, tenant_id: str | None,
                organization_id: str | None = None, roles: Iterable[str] = (), display_name: str = "",
                email: str | None = None) -> User:
    """Add a user and its roles in the caller's transaction (hash with ``prepare_password`` first)."""
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken", errors=[{"field": "username", "message": "is taken"}])
    if organization_id is not None:
        org_tenant = session.scalar(select(Organization.tenant_id).where(Organization.id == organization_id))
        if org_tenant is None or org_tenant != tenant_id:
            raise InvalidInput("organization_id: no such organisation in this tenant",
                               errors=[{"field": "organization_id", "message": "no such organisation in this tenant"}])
    role_rows = roles_by_code(session, tenant_id, roles)
    user = User(username=username, password_hash=password_hash, tenant_id=tenant_id, organization_id=organization_id,
                display_name=display_name or username, email=email, password_changed_at=clock.now())
    session.add(user)
    session.flush()
    session.add_all(UserRole(user_id=user.id, role_id=r.id) for r in role_rows)
    session.flush()
    return user


def create_user(engine: Engine, *, username: str, password: str, tenant_id: str | None,
                organization_id: str | None = None, roles: Iterable[str] = (), display_name: str = "",
                email: str | None = None, actor: str | None = None, ip: str | None = None) -> User:
    """Check the password policy, hash outside the transaction, insert and audit ``user.create``."""
    password_hash = prepare_password(engine.settings, password, field="password", username=username)
    roles = list(roles)
    with engine.db.write() as s:
        user = insert_user(s, username=username, password_hash=password_hash, tenant_id=tenant_id,
                           organization_id=organization_id, roles=roles, display_name=display_name, email=email)
        audit.record(s, action="user.create", actor=actor, tenant_id=tenant_id, target_type="user",
                     target_id=user.id, detail={"username": username, "roles": roles,
                                                "organization_id": organization_id}, ip=ip)
    return user


def reset_password(engine: Engine, user_id: str, new_password: str, *, tenant_id: str | None,
                   actor: str | None, ip: str | None = None) -> None:
    """An administrator sets a new password: policy checked, lock cleared, every session of the user ended.

    ``tenant_id`` scopes the lookup (None: platform staff acting across tenants); another tenant's
    user is NotFound.
    """
    with engine.db.read() as s:
        user = s.get(User, user_id)
        if user is None or (tenant_id is not None and user.tenant_id != tenant_id):
            raise NotFound(f"user {user_id} not found")
        username = user.username
    password_hash = prepare_password(engine.settings, new_password, field="password", username=username)
    with engine.db.write() as s:
        user = s.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound(f"user {user_id} not found")
        user.password_hash = password_hash
        user.password_changed_at = clock.now()
        user.failed_logins = 0
        user.locked_until = None
        throttle.forget(s, user.username)
        user.session_epoch += 1
        audit.record(s, action="user.password-reset", actor=actor, tenant_id=user.tenant_id, target_type="user",
                     target_id=user.id, detail={"username": user.username}, ip=ip)


def describe(engine: Engine, principal: Principal) -> dict[str, Any]:
    """The caller as ``GET /auth/me`` shows it: user, tenant, organisation, roles and what they grant."""
    with engine.db.read() as s:
        user = s.get(User, principal.user_id)
        if user is None:
            raise NotFound("user not found")
        tenant = s.get(Tenant, principal.tenant_id) if principal.tenant_id else None
        org = s.get(Organization, principal.organization_id) if principal.organization_id else None
        visible = (Role.tenant_id.is_(None) if principal.tenant_id is None
                   else or_(Role.tenant_id.is_(None), Role.tenant_id == principal.tenant_id))
        rows = list(s.scalars(select(Role).where(Role.code.in_(principal.acting_roles), visible)))
    permissions = sorted({p for r in rows for p in (r.permissions or [])})
    return {
        "user": {"id": user.id, "username": user.username, "display_name": user.display_name, "email": user.email,
                 "password_changed_at": user.password_changed_at},
        "tenant": {"id": tenant.id, "code": tenant.code, "name": tenant.name} if tenant else None,
        "organization": {"id": org.id, "code": org.code, "name": org.name, "path": org.path} if org else None,
        "roles": list(principal.roles),
        "active_role": principal.active_role,
        "permissions": permissions,
        "data_scopes": {r.code: r.data_scope for r in rows},
    }
