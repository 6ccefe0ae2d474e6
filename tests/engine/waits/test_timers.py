"""Timers: due_timers mirrors waiting timers; fire_due_timers fires each exactly once, on time.

Time is an ``engine.clock.FrozenClock`` moved by hand; SpiffWorkflow reads the same clock.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import datetime, timedelta

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from engine.config import Settings
from engine.core import Engine
from engine.models import DueTimer, ProcessInstance, TaskHistory
from engine.periodic import Periodic, PeriodicRunner
from engine.runtime.instances import Locking
from engine.runtime.steps import advance
from engine.timers import drain_due_timers, fire_due_timers
from tests.helpers import T0, make_engine, read


def deploy(engine, *names: str) -> None:
    for name in names:
        engine.registry.deploy({name: read(name)})


def ready(engine, instance_id: str) -> dict[str, str]:
    """BPMN id -> task guid of each READY user task."""
    with engine.db.read() as s:
        loaded = engine.runtime.load(s, s.get(ProcessInstance, instance_id))
        return {t.task_spec.bpmn_id: str(t.id) for t in loaded.workflow.get_tasks(state=TaskState.READY, manual=True)}


def timers(engine, instance_id: str) -> list[tuple[str, str, datetime, str | None]]:
    with engine.db.read() as s:
        rows = s.scalars(select(DueTimer).where(DueTimer.instance_id == instance_id).order_by(DueTimer.due_at))
        return [(r.task_spec, r.status, r.due_at, r.fired_by) for r in rows]


def reached(engine, instance_id: str, spec: str, state: str = "READY") -> int:
    with engine.db.read() as s:
        return s.scalar(select(func.count()).select_from(TaskHistory).where(
            TaskHistory.instance_id == instance_id, TaskHistory.task_spec == spec, TaskHistory.state == state))


def status(engine, instance_id: str) -> str:
    with engine.db.read() as s:
        return s.get(ProcessInstance, instance_id).status


def test_interrupting_boundary_timer_escalates_after_the_duration_and_not_before(any_engine, frozen):
    deploy(any_engine, "timer_escalation.bpmn")
    inst = any_engine.runtime.start("timer_escalation", tenant_id="t-alpha")
    assert timers(any_engine, inst.id) == [("too_slow", "pending", T0 + timedelta(hours=2), None)]
    assert timers(any_engine, inst.id)[0][2].tzinfo is not None

    frozen.advance(timedelta(hours=1, minutes=59))
    assert fire_due_timers(any_engine, "w1") == 0
    assert list(ready(any_engine, inst.id)) == ["approve"]
    frozen.advance(timedelta(minutes=1))  # exactly due: SpiffWorkflow fires strictly after
    assert fire_due_timers(any_engine, "w1") == 0

    frozen.advance(timedelta(seconds=1))
    assert fire_due_timers(any_engine, "w1") == 1
    assert list(ready(any_engine, inst.id)) == ["escalate"]
    assert reached(any_engine, inst.id, "approve", "CANCELLED") == 1
    assert timers(any_engine, inst.id) == [("too_slow", "fired", T0 + timedelta(hours=2), "w1")]
    assert fire_due_timers(any_engine, "w1") == 0
    assert reached(any_engine, inst.id, "escalate") == 1


def test_non_interrupting_timer_adds_the_reminder_while_the_approval_stays_ready(any_engine, frozen):
    deploy(any_engine, "timer_reminder.bpmn")
    inst = any_engine.runtime.start("timer_reminder", tenant_id="t-alpha")
    approve = ready(any_engine, inst.id)["approve"]

    frozen.advance(timedelta(minutes=61))
    assert fire_due_timers(any_engine, "w1") == 1
    assert ready(any_engine, inst.id) == {"approve": approve, "remind": ready(any_engine, inst.id)["remind"]}
    assert reached(any_engine, inst.id, "approve", "CANCELLED") == 0
    assert [(spec, state) for spec, state, _, _ in timers(any_engine, inst.id)] == [("reminder_due", "fired")]

    any_engine.runtime.complete_task(inst.id, approve, {}, actor="boss")
    assert status(any_engine, inst.id) == "running"  # the reminder is still open
    any_engine.runtime.complete_task(inst.id, ready(any_engine, inst.id)["remind"], {}, actor="clerk")
    assert status(any_engine, inst.id) == "completed"


def test_timer_rows_disappear_when_the_user_completes_the_task_first(engine, frozen):
    deploy(engine, "timer_escalation.bpmn")
    inst = engine.runtime.start("timer_escalation", tenant_id="t-alpha")
    assert len(timers(engine, inst.id)) == 1
    frozen.advance(timedelta(hours=1))
    engine.runtime.complete_task(inst.id, ready(engine, inst.id)["approve"], {}, actor="boss")
    assert timers(engine, inst.id) == []
    frozen.advance(timedelta(hours=5))
    assert fire_due_timers(engine, "w1") == 0
    assert status(engine, inst.id) == "completed"
    assert reached(engine, inst.id, "escalate") == 0


def test_cancelling_the_instance_removes_its_timers(engine, frozen):
    deploy(engine, "timer_escalation.bpmn")
    inst = engine.runtime.start("timer_escalation", tenant_id="t-alpha")
    engine.runtime.cancel(inst.id, actor="op")
    assert timers(engine, inst.id) == []


def test_suspended_instance_timer_does_not_fire_until_resume(any_engine, frozen):
    deploy(any_engine, "timer_escalation.bpmn")
    inst = any_engine.runtime.start("timer_escalation", tenant_id="t-alpha")
    any_engine.runtime.suspend(inst.id, actor="op")
    frozen.advance(timedelta(hours=3))
    assert fire_due_timers(any_engine, "w1") == 0
    assert [state for _, state, _, _ in timers(any_engine, inst.id)] == ["pending"]
    assert list(ready(any_engine, inst.id)) == ["approve"]

    any_engine.runtime.resume(inst.id, actor="op")
    assert fire_due_timers(any_engine, "w1") == 1
    assert list(ready(any_engine, inst.id)) == ["escalate"]


def test_cycle_timer_rearms_with_its_next_due_time_and_event_subprocess_timer_starts(engine, frozen):
    deploy(engine, "timer_cycle.bpmn")
    inst = engine.runtime.start("timer_cycle", tenant_id="t-alpha")
    hour, day = timedelta(hours=1), timedelta(days=1)
    assert [(spec, state, due) for spec, state, due, _ in timers(engine, inst.id)] == [
        ("nag", "pending", T0 + hour), ("deadline", "pending", T0 + day)]

    frozen.advance(hour + timedelta(seconds=1))
    assert fire_due_timers(engine, "w1") == 1
    assert [(spec, state, due) for spec, state, due, _ in timers(engine, inst.id)] == [
        ("nag", "fired", T0 + hour), ("nag", "pending", T0 + 2 * hour), ("deadline", "pending", T0 + day)]
    frozen.advance(hour)
    assert fire_due_timers(engine, "w1") == 1
    assert reached(engine, inst.id, "send_nag", "COMPLETED") == 2
    assert [(spec, state) for spec, state, _, _ in timers(engine, inst.id)] == [
        ("nag", "fired"), ("nag", "fired"), ("deadline", "pending")]  # R2: no third nag

    frozen.advance(day)
    assert fire_due_timers(engine, "w1") == 1
    assert set(ready(engine, inst.id)) == {"work", "handle_deadline"}
    assert reached(engine, inst.id, "send_nag", "COMPLETED") == 2
    assert [state for _, state, _, _ in timers(engine, inst.id)] == ["fired", "fired", "fired"]


def test_a_cycle_timer_fired_by_another_save_is_rearmed_there(engine, frozen):
    """Any engine step refreshes timers: a save that is not a timer firing can move a cycle on."""
    deploy(engine, "timer_cycle.bpmn")
    inst = engine.runtime.start("timer_cycle", tenant_id="t-alpha")
    frozen.advance(timedelta(hours=1, seconds=1))
    with engine.runtime.mutation(inst.id, tenant_id="t-alpha", actor="op") as (_s, loaded):
        advance(loaded.workflow, loaded.kind, loaded.host)  # its last step refreshes timers
    assert [(spec, state, due) for spec, state, due, _ in timers(engine, inst.id)] == [
        ("nag", "pending", T0 + timedelta(hours=2)), ("deadline", "pending", T0 + timedelta(days=1))]


def test_limit_bounds_one_call_and_the_rest_fire_on_the_next(engine, frozen):
    deploy(engine, "timer_escalation.bpmn")
    ids = [engine.runtime.start("timer_escalation", tenant_id="t-alpha").id for _ in range(5)]
    frozen.advance(timedelta(hours=3))
    assert fire_due_timers(engine, "w1", limit=3) == 3
    assert fire_due_timers(engine, "w1", limit=3) == 2
    assert all(list(ready(engine, i)) == ["escalate"] for i in ids)


def test_ticker_fires_due_timers_in_the_background_and_stops(engine, frozen):
    deploy(engine, "timer_escalation.bpmn")
    inst = engine.runtime.start("timer_escalation", tenant_id="t-alpha")
    frozen.advance(timedelta(hours=3))
    ticker = PeriodicRunner([Periodic("timers", 0.05, lambda: drain_due_timers(engine, "ticker-test"))]).start()
    try:
        deadline = time.monotonic() + 10
        while "escalate" not in ready(engine, inst.id) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        ticker.stop()
    assert not ticker.running
    assert timers(engine, inst.id)[0][1:] == ("fired", T0 + timedelta(hours=2), "ticker-test")


# -- racing workers ----------------------------------------------------------------------------

INSTANCES = 8


def _race(fire_a, fire_b) -> list[int]:
    """Run both at a barrier; their return values."""
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker(fire) -> None:
        barrier.wait()
        try:
            results.append(fire())
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f,)) for f in (fire_a, fire_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def _start_due(engine, frozen, count: int = INSTANCES) -> list[str]:
    deploy(engine, "timer_escalation.bpmn")
    ids = [engine.runtime.start("timer_escalation", tenant_id="t-alpha").id for _ in range(count)]
    frozen.advance(timedelta(hours=3))
    return ids


def _fired_once_each(engine, ids: list[str], workers: set[str]) -> None:
    for instance_id in ids:
        assert reached(engine, instance_id, "escalate") == 1
        [(_, state, _, fired_by)] = timers(engine, instance_id)
        assert state == "fired" and fired_by in workers


def test_two_threads_racing_fire_each_timer_once(any_engine, frozen):
    ids = _start_due(any_engine, frozen)
    results = _race(lambda: fire_due_timers(any_engine, "w-a"), lambda: fire_due_timers(any_engine, "w-b"))
    assert sum(results) == INSTANCES
    _fired_once_each(any_engine, ids, {"w-a", "w-b"})


@pytest.mark.postgres
def test_two_engines_on_one_postgres_database_fire_each_timer_once(postgres_database_url, tmp_path, frozen):
    first = make_engine(postgres_database_url, tmp_path)
    second = Engine(Settings(var_dir=tmp_path, database_url=postgres_database_url), upgrade=False)
    try:
        ids = _start_due(first, frozen)
        results = _race(lambda: fire_due_timers(first, "engine-1"), lambda: fire_due_timers(second, "engine-2"))
        assert sum(results) == INSTANCES
        _fired_once_each(first, ids, {"engine-1", "engine-2"})
    finally:
        first.close()
        second.close()


@pytest.mark.postgres
def test_the_claim_alone_keeps_a_timer_from_firing_twice(postgres_database_url, tmp_path, frozen):
    """With the per-instance lock switched off, both workers load the same waiting state and
    would both fire the timer. A save hook holds each firing transaction open until the other
    worker has also reached its save (or 2 s passed): without the claim both would commit."""
    engine = make_engine(postgres_database_url, tmp_path)
    [instance_id] = _start_due(engine, frozen, count=1)
    both_saving = threading.Barrier(2, timeout=2)

    def hold_until_both_save(_session, _loaded) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):  # the other found the timer claimed
            both_saving.wait()

    engine.runtime.save_hooks.append(hold_until_both_save)
    Locking.enabled = False
    try:
        results = _race(lambda: fire_due_timers(engine, "w-a"), lambda: fire_due_timers(engine, "w-b"))
    finally:
        Locking.enabled = True
        engine.runtime.save_hooks.remove(hold_until_both_save)
    try:
        assert sorted(results) == [0, 1]
        assert both_saving.broken  # only one worker ever reached its save
        _fired_once_each(engine, [instance_id], {"w-a", "w-b"})
    finally:
        engine.close()


def test_serve_runs_periodic_work_only_where_no_broker_and_worker_do(engine, monkeypatch):
    from api.server import start_periodic_work

    monkeypatch.setenv("AICMP_DATABASE_URL", engine.settings.database_url)
    monkeypatch.delenv("AICMP_BROKER_URL", raising=False)
    runner = start_periodic_work()
    try:
        assert runner is not None and runner.running
        assert {p.name for p in runner.work} >= {"jobs-sweep", "timers", "expire-records", "audit-checkpoint"}
    finally:
        runner.stop()
    assert not runner.running
    monkeypatch.setenv("AICMP_BROKER_URL", "amqp://guest:guest@127.0.0.1:1//")
    assert start_periodic_work() is None
