"""Signed checkpoints of each chain's head: in the ``audit_checkpoints`` table (chained
themselves) and in a witness file under the var directory, outside the database."""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, or_, select, text
from sqlalchemy.orm import Session

from engine import clock
from engine.audit.chain import GENESIS, KEYRING, LEGACY, Keyring, _keyring
from engine.models import AuditCheckpoint, AuditEntry

if TYPE_CHECKING:
    from engine.db import Database


log = logging.getLogger("aicmp.audit")
_CHECKPOINT_LOCK = (0x41494D51, 0)  # serializes checkpoint writers (ids and prev_mac without gaps)
_WINDOW = timedelta(hours=1)  # rows dated this far before the newest checkpoint are looked at again


@dataclass(frozen=True)
class Checkpoint:
    """One signed checkpoint, as stored in the table and in the file."""

    id: int
    at: datetime
    tenant_id: str | None
    last_row_id: int
    last_hash: str
    row_count: int
    key_id: str
    prev_mac: str
    mac: str

    @classmethod
    def of_row(cls, row: AuditCheckpoint) -> Checkpoint:
        return cls(row.id, row.at, row.tenant_id, row.last_row_id, row.last_hash, row.row_count, row.key_id,
                   row.prev_mac, row.mac)

    @classmethod
    def of_json(cls, line: str) -> Checkpoint:
        d = json.loads(line)
        at = datetime.fromisoformat(d["at"])
        if at.tzinfo is None:
            raise ValueError("naive time")
        values = (int(d["id"]), at, d["tenant_id"], int(d["last_row_id"]), str(d["last_hash"]),
                  int(d["row_count"]), str(d["key_id"]), str(d["prev_mac"]), str(d["mac"]))
        if values[2] is not None and not isinstance(values[2], str):
            raise ValueError("tenant_id")
        return cls(*values)

    def to_json(self) -> str:
        return json.dumps({"id": self.id, "at": self.at.isoformat(), "tenant_id": self.tenant_id,
                           "last_row_id": self.last_row_id, "last_hash": self.last_hash, "row_count": self.row_count,
                           "key_id": self.key_id, "prev_mac": self.prev_mac, "mac": self.mac}, sort_keys=True)

    def payload(self) -> bytes:
        return json.dumps(["aicmp-audit-checkpoint", self.id, self.at.isoformat(), self.tenant_id, self.last_row_id,
                           self.last_hash, self.row_count, self.key_id, self.prev_mac],
                          separators=(",", ":")).encode()

    def signed(self, key: bytes) -> Checkpoint:
        return replace(self, mac=hmac.digest(key, self.payload(), "sha256").hex())

    def genuine(self, ring: Keyring) -> bool | None:
        """True: its MAC matches; False: it does not (altered); None: signed with an unknown key."""
        key = ring.key(self.key_id)
        if key is None:
            return None
        return hmac.compare_digest(hmac.digest(key, self.payload(), "sha256").hex(), self.mac)

    @property
    def label(self) -> str:
        return f"checkpoint #{self.id} ({self.at.strftime('%Y-%m-%dT%H:%M:%SZ')}, row {self.last_row_id})"


def _chain_filter(tenant_id: str | None) -> Any:
    return AuditEntry.tenant_id.is_(None) if tenant_id is None else AuditEntry.tenant_id == tenant_id


def write_checkpoints(session: Session, skip: Collection[str | None] = ()) -> list[Checkpoint]:
    """In the caller's transaction: a checkpoint for every chain (except ``skip``) that grew since
    its newest checkpoint. The row count carries on from that checkpoint (when it is genuine), so a
    deletion before it is never absorbed into the new count."""
    ring = _keyring(session)
    key = ring.current[1]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:c, :k)"), {"c": _CHECKPOINT_LOCK[0],
                                                                        "k": _CHECKPOINT_LOCK[1]})
    cps = AuditCheckpoint.__table__.c
    newest = session.execute(select(cps.id, cps.mac, cps.at).order_by(cps.id.desc()).limit(1)).first()
    next_id, prev_mac = (newest.id + 1, newest.mac) if newest else (1, GENESIS)
    latest = select(cps.tenant_id, func.max(cps.id).label("id")).group_by(cps.tenant_id).subquery()
    heads = {cp.tenant_id: cp for cp in map(Checkpoint.of_row, session.scalars(
        select(AuditCheckpoint).join(latest, AuditCheckpoint.id == latest.c.id)))}
    changed = select(AuditEntry.tenant_id).distinct()
    if newest is not None:  # rows since the newest checkpoints, by id and (for late commits, skewed clocks) by time
        since = max((cp.last_row_id for cp in heads.values()), default=0)
        changed = changed.where(or_(AuditEntry.id > since, AuditEntry.at >= newest.at - _WINDOW))
    tenants = sorted(set(session.scalars(changed)) - set(skip), key=lambda t: (t is not None, t or ""))
    now, written = clock.now(), []
    for tenant in tenants:
        head = heads.get(tenant)
        if head is not None and not head.genuine(ring):
            head = None  # an altered checkpoint (verify reports it) is no base to count from
        after, base = (head.last_row_id, head.row_count) if head else (0, 0)
        n, top = session.execute(select(func.count(), func.max(AuditEntry.id))
                                 .where(_chain_filter(tenant), AuditEntry.id > after)).one()
        if not n:
            continue
        last_hash, scheme = session.execute(select(AuditEntry.hash, AuditEntry.scheme)
                                            .where(AuditEntry.id == top)).one()
        if scheme != LEGACY and ring.key(scheme.removeprefix("hmac:")) is None:
            log.warning("audit chain %s ends in a row signed with a key this process lacks (%s): every "
                        "process must have the same AICMP_AUDIT_KEY", tenant or "(platform)", scheme)
        cp = Checkpoint(next_id, now, tenant, top, last_hash, base + n, ring.current_id, prev_mac, "").signed(key)
        session.execute(insert(AuditCheckpoint.__table__), [{
            "id": cp.id, "at": cp.at, "tenant_id": cp.tenant_id, "last_row_id": cp.last_row_id,
            "last_hash": cp.last_hash, "row_count": cp.row_count, "key_id": cp.key_id, "prev_mac": cp.prev_mac,
            "mac": cp.mac}])
        written.append(cp)
        next_id, prev_mac = cp.id + 1, cp.mac
    return written


def _append_witness(path: Path | None, written: Sequence[Checkpoint]) -> None:
    """Append to the checkpoint file (after the commit: the file never holds a checkpoint the
    database does not). A failure is logged, never raised: the table still has them."""
    if path is None or not written:
        return
    data = "".join(cp.to_json() + "\n" for cp in written).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a torn last line stays a line of its own
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        log.exception("could not append audit checkpoints to %s", path)


def checkpoint(db: Database, *, skip: Collection[str | None] = ()) -> list[Checkpoint]:
    """Write (and witness in the file) a checkpoint for every chain that grew since its last one.
    Safe in many processes at once; the periodic runner calls it hourly."""
    with db.write() as s:
        written = write_checkpoints(s, skip)
    _append_witness(db.info[KEYRING].witness, written)
    return written


def _read_witness(path: Path | None) -> tuple[list[tuple[int, Checkpoint | None]], bool]:
    """The file's checkpoints with their line numbers (None: an unreadable line); and whether it exists."""
    if path is None or not path.exists():
        return [], False
    out: list[tuple[int, Checkpoint | None]] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append((n, Checkpoint.of_json(line)))
            except (ValueError, KeyError, TypeError):
                out.append((n, None))
    return out, True
