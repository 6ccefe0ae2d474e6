"""Verifying every chain against every checkpoint (table and witness file), one problem a line."""

from __future__ import annotations

import hashlib
import hmac
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit.chain import GENESIS, LEGACY, Keyring, _keyring, _row_body
from engine.audit.checkpoints import Checkpoint, _read_witness, checkpoint
from engine.models import AuditCheckpoint, AuditEntry

if TYPE_CHECKING:
    from engine.db import Database


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
