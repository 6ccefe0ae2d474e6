"""Two completions of one task at once must never both apply (PostgreSQL, threads at a barrier).

The second test turns the per-instance lock off with the test-only switch and shows the first
test's assertion would then fail: the suite notices if the lock ever stops working.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine.errors import Conflict
from engine.models import TaskHistory
from engine.runtime.instances import Locking
from tests.engine.runtime.test_runtime import APPROVAL, ready_tasks
from tests.helpers import make_engine

pytestmark = pytest.mark.postgres
CLIENTS = 20


def race(engine) -> tuple[int, int, int]:
    """(successes, conflicts, COMPLETED history rows) for CLIENTS threads completing one task."""
    inst = engine.runtime.start("approval", tenant_id="t-alpha", variables={"amount": 1})
    [(guid, _)] = ready_tasks(engine, inst.id)
    barrier = threading.Barrier(CLIENTS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        barrier.wait()
        try:
            engine.runtime.complete_task(inst.id, guid, {"decision": "reject", "by": n}, actor=f"u{n}")
            outcome = "ok"
        except Conflict:
            outcome = "conflict"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with engine.db.read() as s:
        applied = s.scalar(select(func.count()).select_from(TaskHistory).where(
            TaskHistory.instance_id == inst.id, TaskHistory.task_spec == "review", TaskHistory.state == "COMPLETED"))
    return outcomes.count("ok"), outcomes.count("conflict"), applied


@pytest.fixture
def pg_engine(postgres_database_url, tmp_path):
    eng = make_engine(postgres_database_url, tmp_path)
    eng.registry.deploy(APPROVAL)
    yield eng
    eng.close()


def test_concurrent_completions_apply_exactly_once(pg_engine):
    for _ in range(3):
        ok, conflicts, applied = race(pg_engine)
        assert (ok, conflicts, applied) == (1, CLIENTS - 1, 1)


def test_the_race_test_fails_when_the_lock_is_disabled(pg_engine, monkeypatch):
    monkeypatch.setattr(Locking, "enabled", False)
    results = [race(pg_engine) for _ in range(5)]
    assert any(ok > 1 or applied > 1 for ok, _c, applied in results), (
        f"without the lock the race should double-apply, but got {results}")
