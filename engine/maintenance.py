"""Housekeeping the periodic runner does: forget what can no longer matter.

Idempotency records only need to outlive a client's retries; revoked tokens only until they would
have expired anyway.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete

from engine import clock
from engine.models import IdempotencyRecord, RevokedToken

if TYPE_CHECKING:
    from engine.core import Engine

IDEMPOTENCY_TTL = timedelta(hours=24)


def expire_records(engine: Engine, idempotency_ttl: timedelta = IDEMPOTENCY_TTL) -> int:
    """Delete idempotency records older than ``idempotency_ttl`` and revoked tokens past their expiry."""
    now = clock.now()
    with engine.db.write() as s:
        keys = s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - idempotency_ttl))
        tokens = s.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
        return (keys.rowcount or 0) + (tokens.rowcount or 0)
