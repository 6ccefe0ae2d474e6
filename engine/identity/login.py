"""Signing in and out: credentials, throttling and lockout, password age, single session, role
switching, refresh-token rotation.

Every failure answers with one generic message (``AuthenticationFailed``), whether the user is
unknown, the password wrong, the account locked or disabled, so the answer never tells an
attacker which usernames exist; the real reason goes to the audit log. The argon2 check runs
before the write transaction (it takes tens of milliseconds and SQLite has one writer); the
transaction then locks the user row, re-checks that the hash it verified is still the stored one,
and updates the counters and the audit log together. How many failures an address and an account
may have, and why one address cannot lock an account, is ``engine.identity.throttle``'s docstring.

Each login starts a session (``auth_sessions``) that every token descended from it names; logout
ends it, so the refresh token dies with the access token. A refresh rotates the refresh token: the
used one is revoked and a new pair comes back. A rotated refresh token presented again means that
two parties hold it, one of them a thief: the whole session ends and the reuse is audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.config import Settings
from engine.errors import EngineError, Forbidden, InvalidInput, Unauthorized
from engine.identity import throttle
from engine.identity.passwords import check_policy, hash_password, needs_rehash, verify_password
from engine.identity.tokens import (
    CLAIM_EPOCH,
    CLAIM_SESSION,
    Grant,
    end_sessions,
    expiry,
    live_session,
    principal_for_token,
    revoke,
    start_session,
)
from engine.models import RevokedToken, Role, Tenant, User, UserRole
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


def switch_role(engine: Engine, principal: Principal, role: str | None, *, epoch: int, session_id: str,
                ip: str | None = None) -> Grant:
    """Act as ``role`` (one the user holds; None: all of them) from now on; remembered for the next login.

    The new tokens belong to the caller's session (logging out ends them with it)."""
    if role is not None and role not in principal.roles:
        raise RoleNotHeld(f"you do not hold the role {role!r}",
                          errors=[{"field": "role", "message": f"not one of {list(principal.roles)}"}])
    with engine.db.write() as s:
        user = s.get(User, principal.user_id, with_for_update=True)
        if (user is None or not user.enabled or user.session_epoch != epoch
                or live_session(s, engine.settings, user.id, session_id) is None):
            raise AuthenticationFailed("the session has ended; log in again")
        user.active_role = role
        audit.record(s, action="auth.switch-role", actor=user.username, tenant_id=user.tenant_id, target_type="user",
                     target_id=user.id, detail={"from": principal.active_role, "to": role}, ip=ip)
        return Grant(user.id, user.tenant_id, user.session_epoch, role, session_id)


def refresh(engine: Engine, claims: Mapping[str, Any], *, ip: str | None = None) -> Grant:
    """Rotate the verified refresh token ``claims``: revoke it and say what to issue in its place.

    The token must be of a live session, unrevoked, its user still able to log in. A token that
    was rotated already ends its whole session (every token descended from that login) and is
    audited as ``auth.refresh-reuse``; two refreshes racing with one token count as a reuse too
    (the second waits for the first's lock on the session, then finds the token revoked).
    """
    principal = principal_for_token(engine, claims)  # None also when the token was rotated already
    user_id, jti = claims.get("sub"), claims.get("jti")
    with engine.db.write() as s:
        current = live_session(s, engine.settings, user_id, claims.get(CLAIM_SESSION)) if user_id else None
        if current is None:
            raise AuthenticationFailed("the session has ended; log in again")
        if s.get(RevokedToken, jti) is None:
            if principal is None:
                raise AuthenticationFailed("the token was revoked, has expired or its user is disabled")
            revoke(s, jti, expiry(claims))
            return Grant(principal.user_id, principal.tenant_id, claims[CLAIM_EPOCH], principal.active_role,
                         current.id)
        current.revoked_at = clock.now()
        user = s.get(User, current.user_id)
        audit.record(s, action="auth.refresh-reuse", actor=user.username if user else None,
                     tenant_id=user.tenant_id if user else None, target_type="user", target_id=current.user_id,
                     detail={"session": current.id}, ip=ip)
    raise AuthenticationFailed("the refresh token was used already: its session has ended")  # after the commit


def logout(engine: Engine, principal: Principal, session_ids: Iterable[str], *, ip: str | None = None) -> int:
    """End the given sessions of ``principal``, each with every token of it; returns how many were live."""
    with engine.db.write() as s:
        count = end_sessions(s, principal.user_id, session_ids)
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
        throttle.check(s, settings, ip, username, clock.now())  # a throttled attempt costs no argon2 run
        snap = s.execute(select(User.id, User.password_hash).where(User.username == username)).first()
    stored = snap.password_hash if snap else None
    password_ok = verify_password(settings, stored, password)  # an unknown user still pays for one check
    rehash = (hash_password(settings, password)
              if password_ok and new_hash is None and stored and needs_rehash(settings, stored) else None)

    error: EngineError | None = None
    with engine.db.write() as s:
        now = clock.now()
        user = s.get(User, snap.id, with_for_update=True) if snap else None
        throttle.check(s, settings, ip, username, now)  # again under the row lock: parallel attempts queue here
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
            if user is not None and reason == "password_expired":
                throttle.succeeded(s, ip, username)  # the password was right
                user.failed_logins = 0
            else:
                throttle.record(s, ip, username, now, locking=reason in _COUNTED)
                if user is not None and reason in _COUNTED:
                    _count_failure(s, settings, user, now, detail)
            audit.record(s, action=f"{action}-failed", actor=user.username if user else None,
                         tenant_id=user.tenant_id if user else None, target_type="user",
                         target_id=user.id if user else None, detail={**detail, "reason": reason}, ip=ip)
            error = error or AuthenticationFailed(GENERIC_FAILURE)
            grant = None
        else:
            assert user is not None
            throttle.succeeded(s, ip, username)
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
            grant = Grant(user.id, user.tenant_id, user.session_epoch, role, start_session(s, settings, user.id))
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


def _count_failure(session: Session, settings: Settings, user: User, now: datetime,
                   detail: dict[str, object]) -> None:
    """Lock the account once the failures counting towards it in the throttle's window are enough."""
    user.failed_logins = throttle.account_failures(session, settings, user.username, now)
    if settings.lockout_minutes > 0 and user.failed_logins >= settings.lockout_failures:
        user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
        user.failed_logins = 0
        throttle.restart_count(session, user.username)
        detail["locked_until"] = user.locked_until.isoformat()


def _expired(settings: Settings, user: User, now: datetime) -> bool:
    if settings.password_max_age_days <= 0:
        return False
    return user.password_changed_at + timedelta(days=settings.password_max_age_days) <= now
