"""The tamper-evident audit log: append-only rows chained by SHA-256.

Each row's hash covers its own content and the previous row's hash, so editing or deleting any
row breaks the chain from there on; ``verify`` finds the first row that no longer fits.
Appends are serialized (a PostgreSQL advisory lock; SQLite write transactions are serial
already) so two writers can never chain onto the same predecessor.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from engine import clock
from engine.models import AuditEntry

GENESIS = "0" * 64
_LOCK_KEY = 0x41494D50  # "AIMP": the advisory lock id that serializes appends on PostgreSQL


def _digest(prev_hash: str, at: datetime, tenant_id: str | None, actor: str | None, action: str,
            target_type: str | None, target_id: str | None, detail: dict[str, Any], ip: str | None) -> str:
    body = json.dumps([prev_hash, at.isoformat(), tenant_id, actor, action, target_type, target_id, detail, ip],
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def record(session: Session, *, action: str, actor: str | None, tenant_id: str | None = None,
           target_type: str | None = None, target_id: str | None = None,
           detail: dict[str, Any] | None = None, ip: str | None = None) -> AuditEntry:
    """Append one entry inside the caller's transaction (it commits or rolls back with the change)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    prev = session.scalars(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first() or GENESIS
    at = clock.now()
    detail = json.loads(json.dumps(detail or {}, default=str))
    entry = AuditEntry(at=at, tenant_id=tenant_id, actor=actor, action=action, target_type=target_type,
                       target_id=target_id, detail=detail, ip=ip, prev_hash=prev,
                       hash=_digest(prev, at, tenant_id, actor, action, target_type, target_id, detail, ip))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str | None = None


def _rows(session: Session, batch: int = 1000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        q = select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id).limit(batch)
        rows = session.scalars(q).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def verify(session: Session) -> VerifyResult:
    """Walk the chain; report the first row that was altered, or follows a removed one."""
    prev = GENESIS
    checked = 0
    for row in _rows(session):
        if row.prev_hash != prev:
            return VerifyResult(False, checked, row.id, "the row before it was removed or altered")
        expected = _digest(row.prev_hash, row.at, row.tenant_id, row.actor, row.action, row.target_type,
                           row.target_id, row.detail, row.ip)
        if row.hash != expected:
            return VerifyResult(False, checked, row.id, "its content does not match its hash")
        prev = row.hash
        checked += 1
    return VerifyResult(True, checked)
