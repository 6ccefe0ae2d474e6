"""Audit rows: the audit key (a keyring outside the database) and appending a row to its
tenant's HMAC chain, serialized per chain."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, bindparam, event, insert, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session

from engine import clock
from engine.db import DEFERRED_INSERTS
from engine.models import AuditEntry

if TYPE_CHECKING:
    from engine.config import Settings
    from engine.db import Database


GENESIS = "0" * 64
LEGACY = "sha256"  # the scheme of rows written before keyed hashing
KEYRING = "aicmp.audit.keyring"  # where a Database's sessions find the Keyring (session.info)
_LOCK_CLASS = 0x41494D50  # "AIMP": first key of the advisory lock that serializes appends per chain


def _chain_lock_key(tenant_id: str | None) -> int:
    return int.from_bytes(hashlib.sha256((tenant_id or "").encode()).digest()[:4], "big", signed=True)


def _key_id(key: bytes) -> str:
    return hmac.digest(key, b"aicmp audit key id", "sha256").hex()[:8]


class Keyring:
    """The audit keys, current first, by key id; read on first use (that creates ``var/audit-key``
    when no key is configured). ``witness`` is the append-only checkpoint file (None: none)."""

    def __init__(self, load: Callable[[], Sequence[str]], witness: Path | None = None) -> None:
        self._load = load
        self.witness = witness
        self._keys: dict[str, bytes] | None = None
        self._current: tuple[str, bytes] | None = None
        self._lock = threading.Lock()

    def _resolve(self) -> dict[str, bytes]:
        with self._lock:
            if self._keys is None:
                keys = {}
                for secret in self._load():
                    key = secret.encode()
                    keys.setdefault(_key_id(key), key)
                if not keys:
                    raise RuntimeError("no audit key")
                current_id, current = next(iter(keys.items()))
                self._current = (f"hmac:{current_id}", current)
                self._keys = keys
            return self._keys

    @property
    def current(self) -> tuple[str, bytes]:
        """(scheme, key) that new rows and checkpoints are signed with."""
        if self._current is None:
            self._resolve()
        assert self._current is not None
        return self._current

    @property
    def current_id(self) -> str:
        return self.current[0].removeprefix("hmac:")

    def key(self, key_id: str) -> bytes | None:
        return (self._keys if self._keys is not None else self._resolve()).get(key_id)


def witness_path(settings: Settings) -> Path:
    """The checkpoint file: one per database (a fingerprint of its URL without the password), so
    a var directory that served another database never mixes their checkpoints."""
    url = make_url(settings.database_url).render_as_string(hide_password=True)  # a password change keeps it
    return settings.var_dir / f"audit-checkpoints-{hashlib.sha256(url.encode()).hexdigest()[:12]}.jsonl"


def install(db: Database, settings: Settings) -> Keyring:
    """Give ``db``'s sessions the audit keys of ``settings`` (the Engine does this)."""
    ring = Keyring(settings.audit_keys, witness_path(settings))
    db.info[KEYRING] = ring
    return ring


def _keyring(session: Session) -> Keyring:
    ring = session.info.get(KEYRING)
    if ring is None:
        raise RuntimeError("this session has no audit key: open it from an Engine's database")
    return ring


def _body(prev_hash: str, at: datetime, tenant_id: str | None, actor: str | None, action: str,
          target_type: str | None, target_id: str | None, detail: dict[str, Any], ip: str | None) -> bytes:
    return json.dumps([prev_hash, at.isoformat(), tenant_id, actor, action, target_type, target_id, detail, ip],
                      sort_keys=True, separators=(",", ":"), default=str).encode()


def _row_body(row: AuditEntry) -> bytes:
    return _body(row.prev_hash, row.at, row.tenant_id, row.actor, row.action, row.target_type, row.target_id,
                 row.detail, row.ip)


def record(session: Session, *, action: str, actor: str | None, tenant_id: str | None = None,
           target_type: str | None = None, target_id: str | None = None,
           detail: dict[str, Any] | None = None, ip: str | None = None) -> AuditEntry:
    """Append one entry inside the caller's transaction (it commits or rolls back with the change)."""
    scheme, key = _keyring(session).current
    conn = session.connection()
    heads: dict[str | None, str] = conn.info.setdefault(_HEADS, {})
    prev = heads.get(tenant_id)
    if prev is None:  # this transaction's first append to the chain (or the first since a rollback)
        if session.get_bind().dialect.name == "postgresql":
            lock = {"c": _LOCK_CLASS, "k": _chain_lock_key(tenant_id)}
            session.execute(text("SELECT pg_advisory_xact_lock(:c, :k)"), lock)
        prev = next((row["hash"] for row in reversed(conn.info.get(_PENDING, ())) if row["tenant_id"] == tenant_id),
                    None)
        if prev is None and tenant_id is None:
            prev = session.scalars(_PLATFORM_HEAD).first()
        elif prev is None:
            prev = session.scalars(_TENANT_HEAD, {"tenant_id": tenant_id}).first()
    prev = prev or GENESIS
    at = clock.now()
    detail = json.loads(json.dumps(detail or {}, default=str))
    body = _body(prev, at, tenant_id, actor, action, target_type, target_id, detail, ip)
    values = {"at": at, "tenant_id": tenant_id, "actor": actor, "action": action, "target_type": target_type,
              "target_id": target_id, "detail": detail, "ip": ip, "prev_hash": prev,
              "hash": hmac.digest(key, body, "sha256").hex(), "scheme": scheme}
    heads[tenant_id] = values["hash"]  # the chain stays locked to this transaction: the next append follows it
    deferred = session.info.get(DEFERRED_INSERTS)
    if deferred is not None:  # inside a port call: written when the call succeeds (no id before that)
        deferred.append((AuditEntry.__table__, values))
        return AuditEntry(**values)
    pending = conn.info.pop(_PENDING, None)
    if pending:  # the transaction's earlier entries first, in the same statement (ids rise with the
        # rows' order, as the chain's verification requires of every append: this one's is the largest)
        entry_id = max(session.execute(_APPEND, [*pending, values]).scalars())
    else:
        entry_id = session.execute(_APPEND, values).scalar_one()
    return AuditEntry(id=entry_id, **values)


def append_later(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Entries of a port call that succeeded (``record`` made them, heads and all), written with
    the transaction's next entry or when it commits: one statement for a step's entries. A
    rollback drops them with everything else the transaction did."""
    if rows:
        conn.info.setdefault(_PENDING, []).extend(rows)


def _write_pending(conn: Connection) -> None:
    """The transaction commits: write the entries still waiting (``append_later``). A connection
    that broke commits nothing (and its ``info`` is cleared when it reconnects)."""
    if conn.invalidated:
        return
    pending = conn.info.pop(_PENDING, None)
    if pending:
        conn.execute(insert(AuditEntry.__table__), pending)


def _drop_pending(conn: Connection) -> None:
    if not conn.invalidated:
        conn.info.pop(_PENDING, None)


# Built once: an entry is appended on nearly every write.
_PLATFORM_HEAD = select(AuditEntry.hash).where(AuditEntry.tenant_id.is_(None)).order_by(AuditEntry.id.desc()).limit(1)
_TENANT_HEAD = (select(AuditEntry.hash).where(AuditEntry.tenant_id == bindparam("tenant_id"))
                .order_by(AuditEntry.id.desc()).limit(1))
_APPEND = insert(AuditEntry.__table__).returning(AuditEntry.id)
_PENDING = "aicmp_audit_pending"  # connection.info: entries of this transaction not written yet, in order


_HEADS = "aicmp_audit_heads"  # connection.info: each chain's head as this transaction wrote it


def forget_heads(conn: Any, *_: Any) -> None:
    """A transaction ended, or a savepoint holding appends rolled back: read heads afresh. A
    connection that broke has nothing to forget (its ``info`` is cleared when it reconnects)."""
    if not conn.invalidated:
        conn.info.pop(_HEADS, None)


for _ending in ("commit", "rollback", "rollback_savepoint"):  # every engine's: no append may follow a stale head
    event.listen(Engine, _ending, forget_heads)
event.listen(Engine, "commit", _write_pending)  # runs inside the committing transaction, before the COMMIT
event.listen(Engine, "rollback", _drop_pending)
