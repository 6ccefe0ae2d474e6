"""The tamper-evident audit log: append-only rows chained by HMAC-SHA256, anchored by checkpoints.

Rows. Each tenant (and the platform) has its own chain: a row's hash covers its content and the
hash of the previous row of the same chain, so editing or deleting any row breaks the chain from
there on. The hash is an HMAC keyed with the audit key (``AICMP_AUDIT_KEY``, else ``var/audit-key``,
generated on first use), which is never stored in the database: whoever can write the database but
not read the key cannot recompute a chain that verifies. A row's ``scheme`` names the key
(``hmac:<key id>``); rows written before keyed hashing (``sha256``) are checked with plain SHA-256
and accepted only up to their chain's first checkpoint, which anchors them (they are never
re-keyed: that would launder whatever was done to them before). Appends to one chain are
serialized (a PostgreSQL advisory lock per chain; SQLite write transactions are serial already)
so two writers can never chain onto the same predecessor, while tenants never wait on each other.

Checkpoints. A chain alone cannot show that its newest rows, or all of them, were removed. A
checkpoint records one chain's head (its last row id, that row's hash, how many rows the chain
has) at a time, signed with the key. ``checkpoint()`` writes one for every chain that grew since
its last one: hourly from the periodic runner, and after every ``aicmp audit verify``.
Checkpoints are chained themselves (ids 1, 2, 3… with no gaps, each MAC covering the previous
one's) in the ``audit_checkpoints`` table, so removing or editing one is detected, and each is
also appended to ``var/audit-checkpoints-<database>.jsonl``: a witness outside the database that
still has the newest checkpoints when someone deletes them from the table together with the rows
they anchor. The table serves every host; the file is each var directory's own (a subset).

``verify()`` walks every chain against every checkpoint (table and file) and reports each problem
in one line, saying since which checkpoint (time, row) the chain is broken. Limits: rows appended
after a chain's newest checkpoint and removed before the next leave no trace; whoever holds the
key (or the var directory with the key file) can rewrite everything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from engine import clock
from engine.models import AuditCheckpoint, AuditEntry

if TYPE_CHECKING:
    from engine.config import Settings
    from engine.db import Database

log = logging.getLogger("aicmp.audit")

GENESIS = "0" * 64
LEGACY = "sha256"  # the scheme of rows written before keyed hashing
KEYRING = "aicmp.audit.keyring"  # where a Database's sessions find the Keyring (session.info)
_LOCK_CLASS = 0x41494D50  # "AIMP": first key of the advisory lock that serializes appends per chain
_CHECKPOINT_LOCK = (0x41494D51, 0)  # serializes checkpoint writers (ids and prev_mac without gaps)
_WINDOW = timedelta(hours=1)  # rows dated this far before the newest checkpoint are looked at again


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
    if session.get_bind().dialect.name == "postgresql":
        lock = {"c": _LOCK_CLASS, "k": _chain_lock_key(tenant_id)}
        session.execute(text("SELECT pg_advisory_xact_lock(:c, :k)"), lock)
    chain = AuditEntry.tenant_id.is_(None) if tenant_id is None else AuditEntry.tenant_id == tenant_id
    prev = session.scalars(select(AuditEntry.hash).where(chain).order_by(AuditEntry.id.desc()).limit(1)).first()
    prev = prev or GENESIS
    at = clock.now()
    detail = json.loads(json.dumps(detail or {}, default=str))
    body = _body(prev, at, tenant_id, actor, action, target_type, target_id, detail, ip)
    values = {"at": at, "tenant_id": tenant_id, "actor": actor, "action": action, "target_type": target_type,
              "target_id": target_id, "detail": detail, "ip": ip, "prev_hash": prev,
              "hash": hmac.digest(key, body, "sha256").hex(), "scheme": scheme}
    entry_id = session.execute(insert(AuditEntry.__table__).returning(AuditEntry.id), values).scalar_one()
    return AuditEntry(id=entry_id, **values)


# ----------------------------------------------------------------------------------------- checkpoints


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


# ----------------------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Problem:
    """One thing wrong, for people (``str()``: one line) and for code."""

    line: str
    reason: str
    chain: str | None = None  # the tenant id (None: the platform chain, or not about a chain)
    row_id: int | None = None  # the first row that does not fit, when there is one
    since: Checkpoint | None = None  # the newest checkpoint the chain still matches
    broken_chain: bool = False  # about a chain (else about the checkpoints themselves)

    def __str__(self) -> str:
        return self.line


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str | None = None
    problems: tuple[Problem, ...] = field(default=(), compare=False)
    chains: int = field(default=0, compare=False)
    legacy: int = field(default=0, compare=False)  # rows still under plain SHA-256 (pre-key, anchored)
    checkpoints: int = field(default=0, compare=False)  # genuine checkpoints the chains were held against
    witness: Path | None = field(default=None, compare=False)  # the checkpoint file read, if there was one
    written: tuple[Checkpoint, ...] = field(default=(), compare=False)  # by verify_and_checkpoint

    @property
    def broken_chains(self) -> set[str | None]:
        return {p.chain for p in self.problems if p.broken_chain}


def _chain_name(tenant_id: str | None) -> str:
    return "(platform)" if tenant_id is None else tenant_id


def _ids(first: int, last: int) -> str:
    return f"#{first}" if first == last else f"#{first}..#{last}"


def _check_checkpoints(stored: list[Checkpoint], witnessed: list[tuple[int, Checkpoint | None]],
                       witness: Path | None, ring: Keyring) -> tuple[list[Checkpoint], list[Problem]]:
    """The genuine checkpoints (table and file), and what is wrong with the table or the file."""
    problems: list[Problem] = []

    def problem(text: str) -> None:
        problems.append(Problem(f"checkpoints: {text}", text))

    genuine: dict[tuple[int, str], Checkpoint] = {}
    gap_ids: set[int] = set()
    prev_id, prev_mac, prev_ok = 0, GENESIS, True
    for cp in stored:
        state = cp.genuine(ring)
        if state is None:
            problem(f"{cp.label} is signed with a key this verifier does not have (key id {cp.key_id}): "
                    f"set AICMP_AUDIT_KEY, or AICMP_AUDIT_RETIRED_KEYS, as the process that wrote it had them")
        elif not state:
            problem(f"{cp.label} was altered: its HMAC does not match")
        else:
            genuine[(cp.id, cp.mac)] = cp
        if cp.id != prev_id + 1:
            gap_ids.update(range(prev_id + 1, cp.id))
            problem(f"checkpoint {_ids(prev_id + 1, cp.id - 1)} deleted: "
                    + (f"#{cp.id} follows #{prev_id}" if prev_id else f"the table starts at #{cp.id}"))
        elif state and prev_ok and cp.prev_mac != prev_mac:
            problem(f"{cp.label} does not follow checkpoint #{prev_id}: one of them was replaced")
        prev_id, prev_mac, prev_ok = cp.id, cp.mac, bool(state)
    by_id = {cp.id: cp for cp in stored}
    name = witness.name if witness else ""
    missing: list[Checkpoint] = []
    for n, cp in witnessed:
        if cp is None:
            problem(f"{name} line {n} is unreadable")
            continue
        state = cp.genuine(ring)
        if state is None:
            problem(f"{name} line {n} ({cp.label}) is signed with a key this verifier does not have "
                    f"(key id {cp.key_id})")
            continue
        if not state:
            problem(f"{name} line {n} ({cp.label}) was altered: its HMAC does not match")
            continue
        genuine.setdefault((cp.id, cp.mac), cp)
        row = by_id.get(cp.id)
        if row is None:
            if cp.id not in gap_ids:
                missing.append(cp)
        elif row.mac != cp.mac and row.genuine(ring) is not False:
            problem(f"checkpoint #{cp.id} in the database is not the one {name} recorded ({cp.label}): "
                    f"the original was deleted and its number used again")
    missing.sort(key=lambda cp: cp.id)
    run: list[Checkpoint] = []
    for cp in [*missing, None]:
        if cp is not None and (not run or cp.id == run[-1].id + 1):
            run.append(cp)
            continue
        if len(run) == 1:
            problem(f"{run[0].label} deleted from the database; {name} still has it")
        elif run:
            problem(f"checkpoints {_ids(run[0].id, run[-1].id)} (the newest: {run[-1].label}) deleted from the "
                    f"database; {name} still has them")
        run = [cp] if cp is not None else []
    return sorted(genuine.values(), key=lambda cp: (cp.last_row_id, cp.id)), problems


@dataclass
class _Chain:
    tenant_id: str | None
    pending: deque[Checkpoint]
    first: Checkpoint | None
    prev: str = GENESIS
    count: int = 0
    last_id: int | None = None
    good: Checkpoint | None = None
    broken: bool = False

    def problem(self, reason: str, row_id: int | None = None, since: Checkpoint | None = None) -> Problem:
        self.broken = True
        since = since if since is not None else self.good
        if since is not None:
            where = f"broken since {since.label}, the last one it still matches"
        else:
            where = f"broken since its start ({'none of its checkpoints holds' if self.first else 'no checkpoint yet'})"
        return Problem(f"chain {_chain_name(self.tenant_id)}: {where}: {reason}", reason, self.tenant_id,
                       row_id, since, broken_chain=True)


def _rows(session: Session, batch: int = 1000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        q = select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id).limit(batch)
        rows = session.scalars(q).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def verify(session: Session, keyring: Keyring | None = None) -> VerifyResult:
    """Walk every chain against its checkpoints; one Problem per broken chain (its first fault) and
    one per fault in the checkpoints themselves."""
    ring = keyring or _keyring(session)
    stored = [Checkpoint.of_row(r) for r in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id))]
    witnessed, has_file = _read_witness(ring.witness)
    genuine, problems = _check_checkpoints(stored, witnessed, ring.witness, ring)
    anchored = bool(stored) or any(cp is not None for _, cp in witnessed)
    chains: dict[str | None, _Chain] = {}
    for cp in genuine:
        chain = chains.get(cp.tenant_id)
        if chain is None:
            chains[cp.tenant_id] = chain = _Chain(cp.tenant_id, deque(), cp)
        chain.pending.append(cp)
    checked = legacy = 0
    for row in _rows(session):
        chain = chains.get(row.tenant_id)
        if chain is None:
            chains[row.tenant_id] = chain = _Chain(row.tenant_id, deque(), None)
        if chain.broken:
            continue
        if chain.pending and chain.pending[0].last_row_id < row.id:
            cp = chain.pending[0]
            problems.append(chain.problem(f"row {cp.last_row_id}, anchored by {cp.label}, was deleted", row.id))
            continue
        if row.prev_hash != chain.prev:
            problems.append(chain.problem(f"row {row.id}: the row before it was removed or altered", row.id))
            continue
        body = _row_body(row)
        if row.scheme == LEGACY:
            allowed = row.id <= chain.first.last_row_id if chain.first else not anchored
            if not allowed:
                problems.append(chain.problem(f"row {row.id} has a plain SHA-256 hash where an HMAC is required "
                                              f"(rewritten without the key)", row.id))
                continue
            expected, kind = hashlib.sha256(body).hexdigest(), "SHA-256"
            legacy += 1
        else:
            key = ring.key(row.scheme.removeprefix("hmac:")) if row.scheme.startswith("hmac:") else None
            if key is None:
                problems.append(chain.problem(f"row {row.id} is signed with a key this verifier does not have "
                                              f"({row.scheme}): set AICMP_AUDIT_RETIRED_KEYS", row.id))
                continue
            expected, kind = hmac.digest(key, body, "sha256").hex(), "HMAC"
        if not hmac.compare_digest(row.hash, expected):
            problems.append(chain.problem(f"row {row.id}: its content does not match its hash ({kind}): altered, "
                                          f"or rewritten without the key", row.id))
            continue
        chain.prev, chain.count, chain.last_id = row.hash, chain.count + 1, row.id
        checked += 1
        while chain.pending and chain.pending[0].last_row_id == row.id:
            cp = chain.pending.popleft()
            if cp.last_hash != row.hash or cp.row_count != chain.count:
                problems.append(chain.problem(
                    f"{cp.label} recorded {cp.row_count} rows ending in hash {cp.last_hash[:12]}…, the chain now has "
                    f"{chain.count} ending in {row.hash[:12]}…: rows were removed or replaced", row.id))
                break
            chain.good = cp
    for chain in chains.values():
        if chain.broken or not chain.pending:
            continue
        cp = chain.pending[0]
        if chain.last_id is None:
            problems.append(chain.problem(f"all rows deleted: {cp.label} anchored {cp.row_count} rows"))
        else:
            problems.append(chain.problem(
                f"tail removed: {cp.label} anchored {cp.row_count} rows up to row {cp.last_row_id}, the chain now "
                f"ends at row {chain.last_id} with {chain.count} rows"))
    first = problems[0] if problems else None
    return VerifyResult(not problems, checked, first.row_id if first else None, first.reason if first else None,
                        tuple(problems), len(chains), legacy, len(genuine), ring.witness if has_file else None)


def has_keyed_rows(db: Database) -> bool:
    """Has any key signed this log yet (rows or checkpoints)?"""
    with db.read() as s:
        return (s.scalars(select(AuditEntry.id).where(AuditEntry.scheme != LEGACY).limit(1)).first() is not None
                or s.scalars(select(AuditCheckpoint.id).limit(1)).first() is not None)


def verify_and_checkpoint(db: Database) -> VerifyResult:
    """What ``aicmp audit verify`` does: verify, then checkpoint every chain that verified."""
    with db.read() as s:
        result = verify(s)
    written = checkpoint(db, skip=result.broken_chains)
    return replace(result, written=tuple(written))
