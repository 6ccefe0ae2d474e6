"""Audit log anchoring: keyed (HMAC) chains held against signed checkpoints kept outside the audited table.

Each tampering of the security review is detected, on SQLite and on PostgreSQL: truncating a
chain's tail (the last row, the last five), deleting a tenant's whole chain, rewriting rows with
recomputed plain SHA-256 hashes, deleting or editing checkpoints. Rows from before keyed hashing
verify with SHA-256 up to their chain's first checkpoint and no further.
"""

from __future__ import annotations

import hashlib
import json
import stat
import threading

import pytest
from sqlalchemy import delete, insert, select, update

from engine import audit, clock
from engine.config import Settings
from engine.core import Engine
from engine.models import AuditCheckpoint, AuditEntry
from engine.periodic import periodic_work
from tests.helpers import make_engine

CHAINS = ("t-alpha", "t-beta", None)


def fill(engine: Engine, n: int, chains: tuple[str | None, ...] = CHAINS) -> list[int]:
    ids = []
    for i in range(n):
        with engine.db.write() as s:
            ids.append(audit.record(s, action="role.update", actor=f"u{i}", tenant_id=chains[i % len(chains)],
                                    target_type="role", target_id=str(i), detail={"n": i}, ip="127.0.0.1").id)
    return ids


def chain_ids(engine: Engine, tenant_id: str | None) -> list[int]:
    chain = AuditEntry.tenant_id.is_(None) if tenant_id is None else AuditEntry.tenant_id == tenant_id
    with engine.db.read() as s:
        return list(s.scalars(select(AuditEntry.id).where(chain).order_by(AuditEntry.id)))


def verify(engine: Engine) -> audit.VerifyResult:
    with engine.db.read() as s:
        return audit.verify(s)


def only_problem(result: audit.VerifyResult) -> audit.Problem:
    assert not result.ok
    assert len(result.problems) == 1, [str(p) for p in result.problems]
    return result.problems[0]


def plain_sha256(row: dict) -> str:
    """The pre-key hash (plain SHA-256 of the same body): anyone with database access can compute it."""
    body = json.dumps([row["prev_hash"], row["at"].isoformat(), row["tenant_id"], row["actor"], row["action"],
                       row["target_type"], row["target_id"], row["detail"], row["ip"]],
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def rewrite_with_plain_hashes(engine: Engine, row_id: int, *, scheme: str | None = None, **changes) -> None:
    """What an attacker without the key does: edit a row, then recompute its hash and every later
    hash of its chain with plain SHA-256 so that the links fit again (``scheme``: also relabel them)."""
    with engine.db.write() as s:
        victim = s.get(AuditEntry, row_id)
        chain = AuditEntry.tenant_id.is_(None) if victim.tenant_id is None else AuditEntry.tenant_id == victim.tenant_id
        rows = s.scalars(select(AuditEntry).where(chain, AuditEntry.id >= row_id).order_by(AuditEntry.id)).all()
        prev = victim.prev_hash
        for row in rows:
            values = {c: getattr(row, c) for c in ("at", "tenant_id", "actor", "action", "target_type", "target_id",
                                                   "detail", "ip")}
            if row.id == row_id:
                values.update(changes)
            values["prev_hash"] = prev
            values["hash"] = plain_sha256(values)
            if scheme is not None:
                values["scheme"] = scheme
            s.execute(update(AuditEntry).where(AuditEntry.id == row.id).values(**values))
            prev = values["hash"]


def write_legacy_row(engine: Engine, tenant_id: str | None, actor: str) -> int:
    """A row as the code before keyed hashing wrote it (scheme sha256, plain SHA-256)."""
    with engine.db.write() as s:
        chain = AuditEntry.tenant_id.is_(None) if tenant_id is None else AuditEntry.tenant_id == tenant_id
        prev = s.scalars(select(AuditEntry.hash).where(chain).order_by(AuditEntry.id.desc()).limit(1)).first()
        values = {"at": clock.now(), "tenant_id": tenant_id, "actor": actor, "action": "role.update",
                  "target_type": "role", "target_id": "1", "detail": {"old": True}, "ip": None,
                  "prev_hash": prev or audit.GENESIS}
        values["hash"] = plain_sha256(values)
        return s.execute(insert(AuditEntry.__table__).returning(AuditEntry.id), values).scalar_one()


# ----------------------------------------------------------------------------------------- untouched


def test_an_untouched_log_verifies_clean_and_checkpoints_only_chains_that_grew(any_engine):
    fill(any_engine, 6)
    first = audit.checkpoint(any_engine.db)
    assert [(cp.id, cp.tenant_id, cp.row_count) for cp in first] == [(1, None, 2), (2, "t-alpha", 2),
                                                                      (3, "t-beta", 2)]
    assert audit.checkpoint(any_engine.db) == []  # nothing grew: nothing written
    fill(any_engine, 2, chains=("t-alpha",))
    [grown] = audit.checkpoint(any_engine.db)
    assert (grown.id, grown.tenant_id, grown.row_count, grown.prev_mac) == (4, "t-alpha", 4, first[-1].mac)
    result = verify(any_engine)
    assert result.ok and result.problems == () and result.checked == 8 and result.checkpoints == 4
    assert result.legacy == 0 and result.witness == audit.witness_path(any_engine.settings)
    key_id = audit.chain._key_id(any_engine.settings.audit_keys()[0].encode())
    with any_engine.db.read() as s:
        assert set(s.scalars(select(AuditEntry.scheme))) == {f"hmac:{key_id}"}
        assert set(s.scalars(select(AuditCheckpoint.key_id))) == {key_id}


def test_verify_and_checkpoint_anchors_the_chains_it_verified(engine):
    fill(engine, 3)
    result = audit.verify_and_checkpoint(engine.db)
    assert result.ok and [cp.tenant_id for cp in result.written] == [None, "t-alpha", "t-beta"]
    lines = audit.witness_path(engine.settings).read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3]
    assert audit.verify_and_checkpoint(engine.db).written == ()


# ----------------------------------------------------------------------------------------- truncation


def test_removing_a_chains_last_row_is_detected(any_engine):
    fill(any_engine, 6)
    audit.checkpoint(any_engine.db)
    last = chain_ids(any_engine, "t-alpha")[-1]
    with any_engine.db.write() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id == last))
    problem = only_problem(verify(any_engine))
    assert problem.chain == "t-alpha" and "tail removed" in problem.reason
    assert f"row {last}" in problem.line and "chain t-alpha" in problem.line
    assert "none of its checkpoints holds" in problem.line  # its only checkpoint anchored that row


def test_removing_a_chains_last_five_rows_names_the_checkpoint_it_still_matches(any_engine):
    fill(any_engine, 9)  # three rows per chain
    cps = {cp.tenant_id: cp for cp in audit.checkpoint(any_engine.db)}
    fill(any_engine, 15)  # five more per chain
    audit.checkpoint(any_engine.db)
    victims = chain_ids(any_engine, "t-beta")[-5:]
    with any_engine.db.write() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id.in_(victims)))
    problem = only_problem(verify(any_engine))
    good = cps["t-beta"]
    assert problem.chain == "t-beta" and problem.since == good
    assert f"broken since checkpoint #{good.id} (" in problem.line and f"row {good.last_row_id})" in problem.line
    assert good.at.strftime("%Y-%m-%dT%H:%M:%SZ") in problem.line
    assert "tail removed" in problem.line and "now ends at row" in problem.line
    assert not audit.verify_and_checkpoint(any_engine.db).ok  # and verify does not anchor the broken chain
    assert not verify(any_engine).ok


def test_deleting_a_tenants_whole_chain_is_detected(any_engine):
    fill(any_engine, 6)
    audit.checkpoint(any_engine.db)
    with any_engine.db.write() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.tenant_id == "t-alpha"))
    problem = only_problem(verify(any_engine))
    assert problem.chain == "t-alpha" and "all rows deleted" in problem.line


def test_a_reused_row_id_after_truncation_is_detected(engine):
    """SQLite hands a deleted tail's ids out again: the row at the anchored id has another hash."""
    fill(engine, 3, chains=("t-alpha",))
    audit.checkpoint(engine.db)
    with engine.db.write() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id >= 2))
    fill(engine, 2, chains=("t-alpha",))
    problem = only_problem(verify(engine))
    assert problem.chain == "t-alpha" and "rows were removed or replaced" in problem.line


# ----------------------------------------------------------------------------------------- rewrites


def test_a_row_rewritten_with_recomputed_sha256_hashes_fails_its_hmac(any_engine):
    fill(any_engine, 9)
    audit.checkpoint(any_engine.db)
    victim = chain_ids(any_engine, "t-alpha")[1]
    rewrite_with_plain_hashes(any_engine, victim, actor="mallory")
    problem = only_problem(verify(any_engine))
    assert problem.chain == "t-alpha" and problem.row_id == victim and "HMAC" in problem.reason
    assert "broken since its start" in problem.line  # the checkpoint anchored a later row


def test_a_rewrite_relabelled_as_old_unkeyed_rows_is_refused(any_engine):
    fill(any_engine, 6)
    audit.checkpoint(any_engine.db)
    fill(any_engine, 3)
    victim = chain_ids(any_engine, None)[-1]  # after the checkpoint: only its scheme label could excuse it
    rewrite_with_plain_hashes(any_engine, victim, scheme=audit.LEGACY, actor="mallory")
    problem = only_problem(verify(any_engine))
    assert problem.chain is None and problem.row_id == victim and "plain SHA-256" in problem.reason


def test_an_edit_before_any_checkpoint_is_still_caught_by_the_hmac(engine):
    ids = fill(engine, 3)
    with engine.db.write() as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == ids[0]).values(detail={"n": 99}))
    problem = only_problem(verify(engine))
    assert problem.row_id == ids[0] and "no checkpoint yet" in problem.line


# ----------------------------------------------------------------------------------------- checkpoints


def test_a_deleted_checkpoint_is_detected(any_engine):
    fill(any_engine, 3)
    audit.checkpoint(any_engine.db)  # 1..3
    with any_engine.db.write() as s:
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.id == 2))
    problem = only_problem(verify(any_engine))
    assert problem.chain is None and not problem.broken_chain
    assert problem.line == "checkpoints: checkpoint #2 deleted: #3 follows #1"


def test_deleting_the_newest_checkpoint_with_the_rows_it_anchored_is_caught_by_the_file(any_engine):
    fill(any_engine, 6)
    audit.checkpoint(any_engine.db)
    fill(any_engine, 1, chains=("t-beta",))
    [newest] = audit.checkpoint(any_engine.db)
    with any_engine.db.write() as s:  # consistent inside the database: the table alone cannot tell
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.id == newest.id))
        s.execute(delete(AuditEntry).where(AuditEntry.id == newest.last_row_id))
    result = verify(any_engine)
    lines = [str(p) for p in result.problems]
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"checkpoints: checkpoint #{newest.id} (") and "still has it" in lines[0]
    assert lines[1].startswith("chain t-beta: broken since checkpoint #") and "tail removed" in lines[1]
    fill(any_engine, 1, chains=("t-alpha",))
    assert [cp.id for cp in audit.checkpoint(any_engine.db)] == [newest.id]  # the deleted one's number again
    assert "its number used again" in str(verify(any_engine).problems[0])


def test_altered_checkpoints_fail_their_hmac_in_the_table_and_in_the_file(engine):
    fill(engine, 3)
    audit.checkpoint(engine.db)
    with engine.db.write() as s:
        s.execute(update(AuditCheckpoint).where(AuditCheckpoint.id == 2).values(row_count=5))
    problem = only_problem(verify(engine))
    assert problem.line.startswith("checkpoints: checkpoint #2 (") and "altered" in problem.line
    with engine.db.write() as s:
        s.execute(update(AuditCheckpoint).where(AuditCheckpoint.id == 2).values(row_count=1))
    path = audit.witness_path(engine.settings)
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace('"row_count": 1', '"row_count": 7')
    path.write_text("\n".join([*lines, "{not json"]) + "\n")
    altered, unreadable = (str(p) for p in verify(engine).problems)
    assert altered.startswith(f"checkpoints: {path.name} line 1 (checkpoint #1 (") and "altered" in altered
    assert unreadable == f"checkpoints: {path.name} line 4 is unreadable"


def test_checkpoints_are_numbered_without_gaps_under_concurrent_writers(any_engine):
    fill(any_engine, 3)
    barrier = threading.Barrier(4)
    errors = []

    def run() -> None:
        try:
            barrier.wait()
            for _ in range(3):
                fill(any_engine, 3)
                audit.checkpoint(any_engine.db)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    with any_engine.db.read() as s:
        ids = list(s.scalars(select(AuditCheckpoint.id).order_by(AuditCheckpoint.id)))
    assert ids == list(range(1, len(ids) + 1))
    result = verify(any_engine)
    assert result.ok, [str(p) for p in result.problems]
    assert result.checked == 39


# ----------------------------------------------------------------------------------------- rows from before keys


def test_old_unkeyed_rows_verify_up_to_their_chains_first_checkpoint(any_engine):
    old = [write_legacy_row(any_engine, tenant, f"old{i}") for i, tenant in enumerate(CHAINS * 2)]
    result = verify(any_engine)
    assert result.ok and result.legacy == 6  # not anchored yet: the upgrade's first verify anchors them
    assert audit.verify_and_checkpoint(any_engine.db).ok
    fill(any_engine, 3)  # keyed rows chain on from the old ones
    result = verify(any_engine)
    assert result.ok and result.legacy == 6 and result.checked == 9
    late = write_legacy_row(any_engine, "t-alpha", "straggler")  # unkeyed after the anchor: refused
    problem = only_problem(verify(any_engine))
    assert problem.row_id == late and "plain SHA-256" in problem.reason
    with any_engine.db.write() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id == late))
    rewrite_with_plain_hashes(any_engine, old[1], actor="mallory")  # an anchored old row, hashes recomputed
    problem = only_problem(verify(any_engine))
    assert problem.chain == "t-beta" and "rows were removed or replaced" in problem.reason


def test_old_unkeyed_rows_of_a_chain_without_checkpoints_are_refused_once_anything_is_anchored(engine):
    fill(engine, 1, chains=("t-alpha",))
    audit.checkpoint(engine.db)
    row = write_legacy_row(engine, "t-beta", "old")
    problem = only_problem(verify(engine))
    assert problem.chain == "t-beta" and problem.row_id == row


# ----------------------------------------------------------------------------------------- the key


def test_the_key_file_is_created_once_with_mode_0600_outside_the_database(tmp_path, monkeypatch):
    monkeypatch.delenv("AICMP_AUDIT_KEY", raising=False)
    eng = make_engine(f"sqlite:///{tmp_path / 'a.db'}", tmp_path)
    try:
        assert not (tmp_path / "audit-key").exists()  # first use creates it, not start-up
        fill(eng, 1)
        key_file = tmp_path / "audit-key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_text()) >= 32
        with eng.db.read() as s:
            assert key_file.read_text().strip() not in json.dumps([r.hash for r in s.scalars(select(AuditEntry))])
    finally:
        eng.close()


def test_the_key_setting_wins_and_another_key_cannot_verify(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = Engine(Settings(var_dir=tmp_path, database_url=url, audit_key="k" * 40))
    fill(first, 3)
    audit.checkpoint(first.db)
    first.close()
    assert not (tmp_path / "audit-key").exists()
    other = Engine(Settings(var_dir=tmp_path, database_url=url, audit_key="x" * 40))
    try:
        result = verify(other)
        assert not result.ok and all("does not have" in p.reason for p in result.problems)
    finally:
        other.close()
    with pytest.raises(ValueError, match="at least 32"):
        Settings(var_dir=tmp_path, database_url=url, audit_key="short")


def test_rotating_the_key_keeps_the_old_rows_verifiable(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    old_key, new_key = "o" * 40, "n" * 40
    first = Engine(Settings(var_dir=tmp_path, database_url=url, audit_key=old_key))
    fill(first, 3)
    audit.checkpoint(first.db)
    first.close()
    rotated = Engine(Settings(var_dir=tmp_path, database_url=url, audit_key=new_key,
                              audit_retired_keys=(old_key,)))
    try:
        fill(rotated, 3)
        audit.checkpoint(rotated.db)
        result = verify(rotated)
        assert result.ok and result.checked == 6, [str(p) for p in result.problems]
        with rotated.db.read() as s:
            assert len({r.scheme for r in s.scalars(select(AuditEntry))}) == 2
            assert len({c.key_id for c in s.scalars(select(AuditCheckpoint))}) == 2
    finally:
        rotated.close()
    forgot = Engine(Settings(var_dir=tmp_path, database_url=url, audit_key=new_key))
    try:
        assert not verify(forgot).ok  # without the retired key the old rows cannot be checked
    finally:
        forgot.close()


def test_the_checkpoint_file_belongs_to_one_database(tmp_path):
    a = Settings(var_dir=tmp_path, database_url="postgresql+psycopg://u:secret@db/aicmp")
    b = Settings(var_dir=tmp_path, database_url="postgresql+psycopg://u:other@db/aicmp")
    c = Settings(var_dir=tmp_path, database_url="postgresql+psycopg://u:secret@db/other")
    assert audit.witness_path(a) == audit.witness_path(b) != audit.witness_path(c)
    assert audit.witness_path(a).parent == tmp_path and "secret" not in audit.witness_path(a).name


# ----------------------------------------------------------------------------------------- the schedule


def test_the_periodic_work_writes_checkpoints(engine):
    [job] = [p for p in periodic_work(engine) if p.name == "audit-checkpoint"]
    assert job.interval_s == 3600
    fill(engine, 2)
    assert [cp.tenant_id for cp in job.run()] == ["t-alpha", "t-beta"]
    assert job.run() == []


# ----------------------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_every_tampering_is_reported_in_one_run_on_postgresql(postgres_database_url, tmp_path):
    eng = make_engine(postgres_database_url, tmp_path)
    try:
        fill(eng, 30)  # ten rows per chain
        audit.checkpoint(eng.db)  # 1: platform, 2: t-alpha, 3: t-beta
        fill(eng, 12, chains=("t-alpha", "t-gamma"))
        audit.checkpoint(eng.db)
        assert audit.verify_and_checkpoint(eng.db).ok
        alpha, beta, gamma = (chain_ids(eng, t) for t in ("t-alpha", "t-beta", "t-gamma"))
        platform = chain_ids(eng, None)
        with eng.db.write() as s:
            s.execute(delete(AuditEntry).where(AuditEntry.id.in_(alpha[-5:])))  # last five
            s.execute(delete(AuditEntry).where(AuditEntry.id.in_(gamma)))  # a whole chain
            s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.id == 2))  # a checkpoint
        rewrite_with_plain_hashes(eng, beta[4], actor="mallory")
        with eng.db.write() as s:
            s.execute(delete(AuditEntry).where(AuditEntry.id == platform[-1]))  # the last row
        result = audit.verify_and_checkpoint(eng.db)
        by_chain = {p.chain: p for p in result.problems if p.broken_chain}
        assert set(by_chain) == {"t-alpha", "t-beta", "t-gamma", None}
        assert "tail removed" in by_chain["t-alpha"].line  # and still matches #2, which only the file has now
        assert by_chain["t-alpha"].line.startswith("chain t-alpha: broken since checkpoint #2 (")
        assert "HMAC" in by_chain["t-beta"].line and by_chain["t-beta"].row_id == beta[4]
        assert "all rows deleted" in by_chain["t-gamma"].line
        assert "tail removed" in by_chain[None].line
        assert [str(p) for p in result.problems if not p.broken_chain] == [
            "checkpoints: checkpoint #2 deleted: #3 follows #1"]
        assert result.written == ()  # nothing intact to anchor
    finally:
        eng.close()
