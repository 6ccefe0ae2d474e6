"""Housekeeping the periodic runner does: forget what can no longer matter.

Idempotency records only need to outlive a client's retries; revoked tokens and login sessions
only until their tokens would have expired anyway; failed logins only for the throttle's window.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete

from engine import clock
from engine.identity import throttle
from engine.models import AuthSession, IdempotencyRecord, RevokedToken

if TYPE_CHECKING:
    from engine.core import Engine

IDEMPOTENCY_TTL = timedelta(hours=24)


def expire_records(engine: Engine, idempotency_ttl: timedelta = IDEMPOTENCY_TTL) -> int:
    """Delete idempotency records older than ``idempotency_ttl``, revoked tokens and sessions past their
    expiry, and failed logins older than the throttle's window; returns how many rows went."""
    now = clock.now()
    with engine.db.write() as s:
        keys = s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - idempotency_ttl))
        tokens = s.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
        sessions = s.execute(delete(AuthSession).where(AuthSession.expires_at < now))
        failures = throttle.purge(s, engine.settings, now)
        return (keys.rowcount or 0) + (tokens.rowcount or 0) + (sessions.rowcount or 0) + failures
