"""Signing in and out: credentials, lockout, password age, single session, role switching.

Every failure answers with one generic message (``AuthenticationFailed``), whether the user is
unknown, the password wrong, the account locked or disabled, so the answer never tells an
attacker which usernames exist; the real reason goes to the audit log. The argon2 check runs
before the write transaction (it takes tens of milliseconds and SQLite has one writer); the
transaction then locks the user row, re-checks that the hash it verified is still the stored one,
and updates the counters and the audit log together.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.config import Settings
from engine.errors import EngineError, Forbidden, InvalidInput, Unauthorized
from engine.identity.passwords import check_policy, hash_password, needs_rehash, verify_password
from engine.identity.tokens import Grant, revoke
from engine.models import Role, Tenant, User, UserRole
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.core import Engine

GENERIC_FAILURE = "invalid username, password or tenant"
_COUNTED = ("bad_password", "tenant_mismatch")  # failures that move the account towards a lockout


class AuthenticationFailed(Unauthorized):
    pass


class PasswordExpired(EngineError):
    """The password was right but is older than the maximum age: only a password change is allowed."""

    status = 403
    code = "password_expired"


class RoleNotHeld(Forbidden):
    pass


def authenticate(engine: Engine, username: str, password: str, *, tenant: str | None = None,
                 ip: str | None = None) -> Grant:
    """Check credentials (``tenant``: a tenant code the user must belong to) and say what to issue."""
    return _sign_in(engine, username, password, tenant, ip, new_hash=None)


def change_password(engine: Engine, username: str, password: str, new_password: str, *,
                    tenant: str | None = None, ip: str | None = None) -> Grant:
    """Replace the password, proving the current one; works for an expired password too.

    The new password is checked against the policy before the credentials (a 422 tells nothing
    about the account). Every older token of the user stops working (the session epoch moves).
    """
    check_policy(engine.settings, new_password, field="new_password", username=username)
    if new_password == password:
        raise InvalidInput("new_password: must differ from the current password",
                           errors=[{"field": "new_password", "message": "must differ from the current password"}])
    return _sign_in(engine, username, password, tenant, ip, new_hash=hash_password(engine.settings, new_password))


def switch_role(engine: Engine, principal: Principal, role: str | None, *, epoch: int,
                ip: str | None = None) -> Grant:
    """Act as ``role`` (one the user holds; None: all of them) from now on; remembered for the next login."""
    if role is not None and role not in principal.roles:
        raise RoleNotHeld(f"you do not hold the role {role!r}",
                          errors=[{"field": "role", "message": f"not one of {list(principal.roles)}"}])
    with engine.db.write() as s:
        user = s.get(User, principal.user_id, with_for_update=True)
        if user is None or not user.enabled or user.session_epoch != epoch:
            raise AuthenticationFailed("the session has ended; log in again")
        user.active_role = role
        audit.record(s, action="auth.switch-role", actor=user.username, tenant_id=user.tenant_id, target_type="user",
                     target_id=user.id, detail={"from": principal.active_role, "to": role}, ip=ip)
        return Grant(user.id, user.tenant_id, user.session_epoch, role)


def logout(engine: Engine, principal: Principal, tokens: Iterable[tuple[str, datetime]], *,
           ip: str | None = None) -> int:
    """Revoke the given ``(jti, expires_at)`` tokens of ``principal``; returns how many were new."""
    with engine.db.write() as s:
        count = revoke(s, tokens)
        audit.record(s, action="auth.logout", actor=principal.username, tenant_id=principal.tenant_id,
                     target_type="user", target_id=principal.user_id, detail={"revoked": count}, ip=ip)
    return count


def held_roles(session: Session, user: User) -> list[str]:
    return list(session.scalars(select(Role.code).join(UserRole, UserRole.role_id == Role.id)
                                .where(UserRole.user_id == user.id).order_by(Role.code)))


def _sign_in(engine: Engine, username: str, password: str, tenant: str | None, ip: str | None, *,
             new_hash: str | None) -> Grant:
    settings = engine.settings
    with engine.db.read() as s:
        snap = s.execute(select(User.id, User.password_hash).where(User.username == username)).first()
    stored = snap.password_hash if snap else None
    password_ok = verify_password(settings, stored, password)  # an unknown user still pays for one check
    rehash = (hash_password(settings, password)
              if password_ok and new_hash is None and stored and needs_rehash(settings, stored) else None)

    error: EngineError | None = None
    with engine.db.write() as s:
        now = clock.now()
        user = s.get(User, snap.id, with_for_update=True) if snap else None
        if user is None:
            reason: str | None = "unknown_user"
        else:
            reason = _refusal(s, settings, user, password_ok and user.password_hash == stored, tenant, now)
        action = "auth.password-change" if new_hash else "auth.login"
        detail: dict[str, object] = {"username": username, "tenant": tenant}
        if reason is None and user is not None and new_hash is None and _expired(settings, user, now):
            reason = "password_expired"
            error = PasswordExpired("the password has expired and must be changed")
        if reason is not None:
            if user is not None and reason in _COUNTED:
                _count_failure(settings, user, now, detail)
            elif user is not None and reason == "password_expired":
                user.failed_logins = 0
            audit.record(s, action=f"{action}-failed", actor=user.username if user else None,
                         tenant_id=user.tenant_id if user else None, target_type="user",
                         target_id=user.id if user else None, detail={**detail, "reason": reason}, ip=ip)
            error = error or AuthenticationFailed(GENERIC_FAILURE)
            grant = None
        else:
            assert user is not None
            user.failed_logins = 0
            user.locked_until = None
            if new_hash is not None:
                user.password_hash = new_hash
                user.password_changed_at = now
                user.session_epoch += 1
            else:
                if rehash is not None:
                    user.password_hash = rehash
                    detail["rehashed"] = True
                if settings.single_session:
                    user.session_epoch += 1
            held = held_roles(s, user)
            role = user.active_role if user.active_role in held else None
            audit.record(s, action=action, actor=user.username, tenant_id=user.tenant_id, target_type="user",
                         target_id=user.id, detail={**detail, "role": role}, ip=ip)
            grant = Grant(user.id, user.tenant_id, user.session_epoch, role)
    if error is not None:
        raise error  # after the commit: the failure counters and the audit row are kept
    assert grant is not None
    return grant


def _refusal(session: Session, settings: Settings, user: User, password_ok: bool, tenant: str | None,
             now: datetime) -> str | None:
    """Why this attempt is refused (None: it is not)."""
    if user.locked_until is not None:
        if user.locked_until > now:
            return "locked"  # attempts while locked neither count nor extend the lock
        user.locked_until = None
    if not password_ok:
        return "bad_password"
    own = session.get(Tenant, user.tenant_id) if user.tenant_id else None
    if tenant is not None and (own is None or own.code != tenant):
        return "tenant_mismatch"
    if not user.enabled:
        return "disabled"
    if own is not None and not own.enabled:
        return "tenant_disabled"
    return None


def _count_failure(settings: Settings, user: User, now: datetime, detail: dict[str, object]) -> None:
    user.failed_logins += 1
    if settings.lockout_minutes > 0 and user.failed_logins >= settings.lockout_failures:
        user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
        user.failed_logins = 0
        detail["locked_until"] = user.locked_until.isoformat()


def _expired(settings: Settings, user: User, now: datetime) -> bool:
    if settings.password_max_age_days <= 0:
        return False
    return user.password_changed_at + timedelta(days=settings.password_max_age_days) <= now
