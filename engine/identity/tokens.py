"""What a token carries, and turning a verified token back into a Principal on every request.

A token's subject is the user id; its extra claims are ``tid`` (tenant id, null for platform
staff), ``ep`` (the user's session epoch when it was issued), ``role`` (the active role, null
for "all my roles") and ``sid`` (its session: the login it descends from). Bumping
``users.session_epoch`` (single-session login, password change or reset) ends every older token
at once; revoking an ``auth_sessions`` row (logout, refresh-token reuse) ends every token of that
login; a rotated refresh token is revoked on its own by ``jti``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session

from engine import clock
from engine.config import Settings
from engine.models import AuthSession, RevokedToken, Role, Tenant, User, UserRole
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.core import Engine

CLAIM_TENANT = "tid"
CLAIM_EPOCH = "ep"
CLAIM_ROLE = "role"
CLAIM_SESSION = "sid"


@dataclass(frozen=True)
class Grant:
    """Who a new token is for; ``claims()`` are the extra JWT claims (the subject is ``user_id``)."""

    user_id: str
    tenant_id: str | None
    epoch: int
    role: str | None
    session_id: str

    def claims(self) -> dict[str, Any]:
        return {CLAIM_TENANT: self.tenant_id, CLAIM_EPOCH: self.epoch, CLAIM_ROLE: self.role,
                CLAIM_SESSION: self.session_id}


def _statement() -> Any:
    """Built once: compiling a statement costs more than running it (this runs on every request).
    One row per role of the user (one row if it has none), each carrying the token's two flags:
    its jti was revoked, its session is live."""
    users, roles, user_roles, tenants = User.__table__, Role.__table__, UserRole.__table__, Tenant.__table__
    revoked_tokens, sessions = RevokedToken.__table__, AuthSession.__table__
    revoked = exists().where(revoked_tokens.c.jti == bindparam("jti"))
    live = exists().where(sessions.c.id == bindparam("sid"), sessions.c.user_id == users.c.id,
                          sessions.c.revoked_at.is_(None))
    role_visible = or_(roles.c.tenant_id.is_(None), roles.c.tenant_id == users.c.tenant_id)
    return (select(users.c.username, users.c.tenant_id, users.c.organization_id, users.c.enabled,
                   users.c.session_epoch, tenants.c.enabled, roles.c.code, revoked.label("revoked"),
                   live.label("live"))
            .select_from(users.outerjoin(tenants, tenants.c.id == users.c.tenant_id)
                         .outerjoin(user_roles, user_roles.c.user_id == users.c.id)
                         .outerjoin(roles, and_(roles.c.id == user_roles.c.role_id, role_visible)))
            .where(users.c.id == bindparam("user_id")))


_CALLER = _statement()


def principal_for_token(engine: Engine, claims: Mapping[str, Any]) -> Principal | None:
    """The caller behind verified JWT ``claims``, or None when the token must no longer work.

    None when: the jti was revoked, its session ended (or is unknown: tokens from before sessions
    existed), the epoch is stale, the user is gone or disabled, its tenant is disabled or is not the
    token's, or the token's active role is no longer held. One indexed statement (the user joined
    with its roles, the revocation and the session by primary key), compiled once, on an
    autocommit connection: no transaction to begin or end for a single read.
    """
    user_id, jti, epoch, sid = claims.get("sub"), claims.get("jti"), claims.get(CLAIM_EPOCH), claims.get(CLAIM_SESSION)
    if not all(isinstance(v, str) for v in (user_id, jti, sid)) or not isinstance(epoch, int):
        return None
    with engine.db.autocommit() as s:
        rows = s.execute(_CALLER, {"jti": jti, "sid": sid, "user_id": user_id}).all()
    if not rows:
        return None
    username, tenant_id, organization_id, enabled, session_epoch, tenant_enabled, _, revoked, live = rows[0]
    if revoked or not live:
        return None
    if not enabled or session_epoch != epoch or claims.get(CLAIM_TENANT) != tenant_id:
        return None
    if tenant_id is not None and not tenant_enabled:
        return None
    roles = tuple(sorted({r[6] for r in rows if r[6] is not None}))
    role = claims.get(CLAIM_ROLE)
    if role is not None and role not in roles:
        return None
    return Principal(user_id=user_id, username=username, tenant_id=tenant_id, organization_id=organization_id,
                     roles=roles, active_role=role)


def session_expiry(settings: Settings) -> datetime:
    """When a refresh token issued now expires (JWT expiry is judged on the real clock)."""
    return datetime.now(UTC) + timedelta(days=settings.refresh_token_days)


def start_session(session: Session, settings: Settings, user_id: str) -> str:
    """A new login's session, in the caller's transaction; its id goes into every token of the login."""
    row = AuthSession(user_id=user_id, expires_at=session_expiry(settings))
    session.add(row)
    session.flush()
    return row.id


def live_session(session: Session, settings: Settings, user_id: str, session_id: Any) -> AuthSession | None:
    """Lock ``user_id``'s session ``session_id`` if it has not ended, and stretch it to the lifetime of a
    refresh token issued now (the caller is about to issue one); None if it has ended."""
    row = session.get(AuthSession, session_id, with_for_update=True) if isinstance(session_id, str) else None
    if row is None or row.revoked_at is not None or row.user_id != user_id:
        return None
    row.expires_at = session_expiry(settings)
    return row


def end_sessions(session: Session, user_id: str, session_ids: Iterable[str]) -> int:
    """End ``user_id``'s given sessions (every token of each); returns how many were still live."""
    return session.execute(update(AuthSession).where(
        AuthSession.id.in_(set(session_ids)), AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())).rowcount or 0


def revoke(session: Session, jti: str, expires_at: datetime) -> None:
    """Revoke one token in the caller's transaction (a used refresh token). The hourly housekeeping
    (``engine.maintenance``) drops the row once the token has expired anyway."""
    session.add(RevokedToken(jti=jti, expires_at=expires_at))


def expiry(claims: Mapping[str, Any]) -> datetime:
    """A token's ``exp`` as an aware datetime (tokens without one are kept revoked for a year)."""
    exp = claims.get("exp")
    if isinstance(exp, int | float):
        return datetime.fromtimestamp(exp, UTC)
    return datetime.now(UTC) + timedelta(days=366)
