"""Audit log: per-tenant hash chains; verify finds the first altered or removed row."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select, update

from engine import audit
from engine.models import AuditEntry
from tests.helpers import make_engine


def fill(engine, n: int = 6) -> list[int]:
    ids = []
    for i in range(n):
        with engine.db.write() as s:
            tenant = ("t-alpha", "t-beta", None)[i % 3]
            ids.append(audit.record(s, action="role.update", actor=f"u{i}", tenant_id=tenant,
                                    target_type="role", target_id=str(i), detail={"n": i}, ip="127.0.0.1").id)
    return ids


def test_an_untouched_log_verifies(any_engine):
    fill(any_engine)
    with any_engine.db.read() as s:
        assert audit.verify(s) == audit.VerifyResult(True, 6)


def test_an_edited_row_is_reported(any_engine):
    ids = fill(any_engine)
    with any_engine.db.write() as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == ids[3]).values(actor="mallory"))
    with any_engine.db.read() as s:
        result = audit.verify(s)
    assert not result.ok and result.first_bad_id == ids[3] and "hash" in result.reason


def test_a_removed_row_is_reported_at_its_successor(engine):
    ids = fill(engine)
    with engine.db.write() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))  # t-beta's first row
    with engine.db.read() as s:
        result = audit.verify(s)
    assert not result.ok and result.first_bad_id == ids[4] and "removed" in result.reason


def test_a_rolled_back_change_leaves_no_audit_row(engine):
    with pytest.raises(RuntimeError), engine.db.write() as s:
        audit.record(s, action="tenant.delete", actor="x", tenant_id="t-alpha")
        raise RuntimeError("the change failed")
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0


@pytest.mark.postgres
def test_concurrent_appends_keep_every_chain_intact(postgres_database_url, tmp_path):
    eng = make_engine(postgres_database_url, tmp_path)
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        barrier.wait()
        for i in range(10):
            with eng.db.write() as s:
                audit.record(s, action="task.complete", actor=f"w{n}", tenant_id="t-alpha" if n % 2 else None,
                             detail={"i": i})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with eng.db.read() as s:
        assert audit.verify(s) == audit.VerifyResult(True, 80)
    eng.close()
