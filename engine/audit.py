"""The tamper-evident audit log: append-only rows chained by SHA-256.

Each tenant (and the platform) has its own chain: a row's hash covers its content and the hash
of the previous row of the same chain, so editing or deleting any row breaks the chain from
there on; ``verify`` finds the first row that no longer fits. Appends to one chain are
serialized (a PostgreSQL advisory lock per chain; SQLite write transactions are serial already)
so two writers can never chain onto the same predecessor, while tenants never wait on each other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from engine import clock
from engine.models import AuditEntry

GENESIS = "0" * 64
_LOCK_CLASS = 0x41494D50  # "AIMP": first key of the advisory lock that serializes appends per chain


def _chain_lock_key(tenant_id: str | None) -> int:
    return int.from_bytes(hashlib.sha256((tenant_id or "").encode()).digest()[:4], "big", signed=True)


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
        key = {"c": _LOCK_CLASS, "k": _chain_lock_key(tenant_id)}
        session.execute(text("SELECT pg_advisory_xact_lock(:c, :k)"), key)
    chain = AuditEntry.tenant_id.is_(None) if tenant_id is None else AuditEntry.tenant_id == tenant_id
    prev = session.scalars(select(AuditEntry.hash).where(chain).order_by(AuditEntry.id.desc()).limit(1)).first()
    prev = prev or GENESIS
    at = clock.now()
    detail = json.loads(json.dumps(detail or {}, default=str))
    values = {"at": at, "tenant_id": tenant_id, "actor": actor, "action": action, "target_type": target_type,
              "target_id": target_id, "detail": detail, "ip": ip, "prev_hash": prev,
              "hash": _digest(prev, at, tenant_id, actor, action, target_type, target_id, detail, ip)}
    entry_id = session.execute(insert(AuditEntry.__table__).returning(AuditEntry.id), values).scalar_one()
    return AuditEntry(id=entry_id, **values)


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
    """Walk every chain; report the first row that was altered, or follows a removed one."""
    last: dict[str | None, str] = {}
    checked = 0
    for row in _rows(session):
        if row.prev_hash != last.get(row.tenant_id, GENESIS):
            return VerifyResult(False, checked, row.id, "the row before it was removed or altered")
        expected = _digest(row.prev_hash, row.at, row.tenant_id, row.actor, row.action, row.target_type,
                           row.target_id, row.detail, row.ip)
        if row.hash != expected:
            return VerifyResult(False, checked, row.id, "its content does not match its hash")
        last[row.tenant_id] = row.hash
        checked += 1
    return VerifyResult(True, checked)
