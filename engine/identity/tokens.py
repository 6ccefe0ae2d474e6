"""What a token carries, and turning a verified token back into a Principal on every request.

A token's subject is the user id; its extra claims are ``tid`` (tenant id, null for platform
staff), ``ep`` (the user's session epoch when it was issued) and ``role`` (the active role, null
for "all my roles"). Bumping ``users.session_epoch`` (single-session login, password change or
reset) therefore ends every older token at once; logout revokes single tokens by ``jti``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, delete, or_, select
from sqlalchemy.orm import Session

from engine.models import RevokedToken, Role, Tenant, User, UserRole
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.core import Engine

CLAIM_TENANT = "tid"
CLAIM_EPOCH = "ep"
CLAIM_ROLE = "role"


@dataclass(frozen=True)
class Grant:
    """Who a new token is for; ``claims()`` are the extra JWT claims (the subject is ``user_id``)."""

    user_id: str
    tenant_id: str | None
    epoch: int
    role: str | None

    def claims(self) -> dict[str, Any]:
        return {CLAIM_TENANT: self.tenant_id, CLAIM_EPOCH: self.epoch, CLAIM_ROLE: self.role}


def _statements() -> tuple[Any, Any]:
    """Built once: compiling a statement costs more than running it (this runs on every request)."""
    users, roles, user_roles, tenants = User.__table__, Role.__table__, UserRole.__table__, Tenant.__table__
    revoked = select(RevokedToken.__table__.c.jti).where(RevokedToken.__table__.c.jti == bindparam("jti"))
    role_visible = or_(roles.c.tenant_id.is_(None), roles.c.tenant_id == users.c.tenant_id)
    user = (select(users.c.username, users.c.tenant_id, users.c.organization_id, users.c.enabled,
                   users.c.session_epoch, tenants.c.enabled, roles.c.code)
            .select_from(users.outerjoin(tenants, tenants.c.id == users.c.tenant_id)
                         .outerjoin(user_roles, user_roles.c.user_id == users.c.id)
                         .outerjoin(roles, and_(roles.c.id == user_roles.c.role_id, role_visible)))
            .where(users.c.id == bindparam("user_id")))
    return revoked, user  # one row per role of the user (one row if it has none)


_REVOKED, _USER = _statements()


def principal_for_token(engine: Engine, claims: Mapping[str, Any]) -> Principal | None:
    """The caller behind verified JWT ``claims``, or None when the token must no longer work.

    None when: the jti was revoked, the epoch is stale, the user is gone or disabled, its tenant is
    disabled or is not the token's, or the token's active role is no longer held. Two indexed
    queries (revocation by primary key; the user joined with its roles) on one connection, with
    statements compiled once.
    """
    user_id, jti, epoch = claims.get("sub"), claims.get("jti"), claims.get(CLAIM_EPOCH)
    if not isinstance(user_id, str) or not isinstance(jti, str) or not isinstance(epoch, int):
        return None
    with engine.db.engine.connect() as conn:
        if conn.execute(_REVOKED, {"jti": jti}).first() is not None:
            return None
        rows = conn.execute(_USER, {"user_id": user_id}).all()
    if not rows:
        return None
    username, tenant_id, organization_id, enabled, session_epoch, tenant_enabled, _ = rows[0]
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


def revoke(session: Session, tokens: Iterable[tuple[str, datetime]]) -> int:
    """Revoke ``(jti, expires_at)`` pairs in the caller's transaction; purge revocations past expiry.

    Expired rows are safe to drop because an expired token fails signature-time checks anyway;
    JWT expiry is judged on the real clock, so the purge uses it too (never the test clock).
    """
    count = 0
    for jti, expires_at in tokens:
        if session.get(RevokedToken, jti) is None:
            session.add(RevokedToken(jti=jti, expires_at=expires_at))
            count += 1
    session.flush()
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at < datetime.now(UTC)))
    return count


def expiry(claims: Mapping[str, Any]) -> datetime:
    """A token's ``exp`` as an aware datetime (tokens without one are kept revoked for a year)."""
    exp = claims.get("exp")
    if isinstance(exp, int | float):
        return datetime.fromtimestamp(exp, UTC)
    return datetime.now(UTC) + timedelta(days=366)
