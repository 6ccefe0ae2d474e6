"""Async operators reach the platform ports from their job, embedded (Celery eager) on SQLite and
PostgreSQL: the operator runs with its instance's scope, each port call is its own transaction
(committed once, while the job still runs, none held around the operator), another tenant's object
is refused, an uncaught refusal is the BPMN error of its code, and without a dispatcher the same
operator runs inline in the step."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text

from engine.models import Incident, Job, ProcessInstance, SiteMessage, User
from engine.ports import Port, instance_scope
from engine.runtime.services import current_scope
from tasks.ports import Refused, current
from tests.helpers import read

FILES = {"jobs_async.bpmn": read("jobs_async.bpmn")}


class Notes(Port):
    """A reading test port: how many site messages a user of the calling instance's tenant has."""

    def count(self, username: str) -> int:
        scope = instance_scope()
        with self._ports.reading() as s:
            return s.scalar(select(func.count()).select_from(SiteMessage).join(User, User.id == SiteMessage.user_id)
                            .where(User.username == username, SiteMessage.tenant_id == scope.tenant_id)) or 0


def _setup(engine) -> None:
    engine.ports.register("notes", Notes)
    with engine.db.write() as s:
        s.add_all([User(id="u-al", tenant_id="t-alpha", username="al", password_hash="x"),
                   User(id="u-be", tenant_id="t-beta", username="be", password_hash="x")])
    engine.registry.deploy(FILES)


def _messages(engine, user_id: str) -> list[SiteMessage]:
    with engine.db.read() as s:
        return list(s.scalars(select(SiteMessage).where(SiteMessage.user_id == user_id)))


def _jobs(engine, instance_id: str) -> list[Job]:
    with engine.db.read() as s:
        return list(s.scalars(select(Job).where(Job.instance_id == instance_id)))


def _notify(engine, seen: dict[str, Any]):
    def operate(amount: Any, label: str) -> dict[str, Any]:
        ports = current()
        seen["scope"] = current_scope()
        before = ports.notes.count("al")
        sent = ports.messages.send("t-alpha", ["al"], "info", f"built {label}", "", {})
        seen["committed_while_running"] = len(_messages(engine, "u-al"))  # another session sees it already
        try:
            ports.messages.send("t-beta", ["be"], "info", "not yours", "", {})
        except Refused as exc:
            seen["refused"] = exc.code
        return {"before": before, "sent": sent, "after": ports.notes.count("al"), "beta": ports.notes.count("be")}

    return operate


def test_an_async_operator_reads_and_writes_through_the_ports_in_its_instances_scope(any_engine, operators):
    _setup(any_engine)
    seen: dict[str, Any] = {}
    operators.operator("test/job", mode="async")(_notify(any_engine, seen))
    inst = any_engine.runtime.start("jobs_async", tenant_id="t-alpha", initiator="al", business_key="bk-1",
                                    variables={"amount": Decimal("1"), "seq": 3})
    with any_engine.db.read() as s:
        assert s.get(ProcessInstance, inst.id).status == "completed"
        data = any_engine.runtime.load(s, s.get(ProcessInstance, inst.id)).workflow.data
    assert [(j.status, j.attempt) for j in _jobs(any_engine, inst.id)] == [("done", 1)]  # it ran as a job
    scope = seen["scope"]
    assert (scope.tenant_id, scope.process_key, scope.initiator, scope.business_key, scope.internal) == (
        "t-alpha", "jobs_async", "al", "bk-1", False)
    assert seen["committed_while_running"] == 1 and seen["refused"] == "UNKNOWN_TENANT"
    # the write committed once; the other tenant got nothing and its user is out of reach
    assert data["answer"] == {"before": 0, "sent": 1, "after": 1, "beta": 0}
    assert [m.title for m in _messages(any_engine, "u-al")] == ["built vm-3"]
    assert _messages(any_engine, "u-be") == []


def test_an_internal_process_runs_its_jobs_as_internal(engine, operators):
    _setup(engine)
    engine.runtime.internal_keys.add("jobs_async")
    seen: dict[str, Any] = {}
    operators.operator("test/job", mode="async")(_notify(engine, seen))
    engine.runtime.start("jobs_async", tenant_id="t-alpha", variables={"amount": 1, "seq": 4})
    assert seen["scope"].internal is True and seen["scope"].tenant_id == "t-alpha"


def test_an_uncaught_refusal_is_the_bpmn_error_of_its_code_and_is_retried(any_engine, operators, frozen):
    _setup(any_engine)
    calls: list[str] = []

    def operate(amount: Any, label: str) -> dict[str, Any]:
        calls.append(label)
        current().messages.send("t-alpha", ["al"], "info", "sent before the refusal", "", {})
        return {"n": current().messages.send("t-beta", ["be"], "info", "x", "", {})}

    operators.operator("test/job", mode="async")(operate)
    inst = any_engine.runtime.start("jobs_async", tenant_id="t-alpha", variables={"amount": 1, "seq": 5})
    [job] = _jobs(any_engine, inst.id)
    assert (job.status, job.attempt, job.error["code"]) == ("queued", 2, "UNKNOWN_TENANT")  # not a crash
    # each port call was its own transaction: the first one stays, the refused one left nothing
    assert len(_messages(any_engine, "u-al")) == 1 and _messages(any_engine, "u-be") == []
    for wait in (3, 9):
        frozen.advance(timedelta(seconds=wait))
        assert any_engine.jobs.requeue_lost_jobs(0) == [job.id]
    with any_engine.db.read() as s:
        row = s.get(ProcessInstance, inst.id)
    assert row.status == "incident" and len(calls) == 3
    assert len(_messages(any_engine, "u-al")) == 3  # a repeated job repeats its committed calls


def test_a_port_call_that_fails_rolls_back_only_itself(engine, operators):
    _setup(engine)

    class Faulty(Port):
        def write_then_fail(self) -> None:
            with self._ports.session() as s:
                s.add(SiteMessage(tenant_id="t-alpha", user_id="u-al", kind="info", title="rolled back", body="",
                                  link={}))
                s.flush()
                raise Refused("BROKEN", "after the write")

    engine.ports.register("faulty", Faulty)

    def operate(amount: Any, label: str) -> dict[str, Any]:
        with contextlib.suppress(Refused):
            current().faulty.write_then_fail()
        return {"sent": current().messages.send("t-alpha", ["al"], "info", "kept", "", {})}

    operators.operator("test/job", mode="async")(operate)
    inst = engine.runtime.start("jobs_async", tenant_id="t-alpha", variables={"amount": 1, "seq": 6})
    with engine.db.read() as s:
        assert s.get(ProcessInstance, inst.id).status == "completed"
    assert [m.title for m in _messages(engine, "u-al")] == ["kept"]


def test_a_database_failure_under_a_port_call_is_no_outcome_and_the_job_runs_again(any_engine, operators,
                                                                                    frozen):
    """The connection breaks in the middle of a port call (a lost server, a worker stopped
    mid-statement): not the operator's fault, so no incident and no retry is spent; the job stays
    queued, its claim given back, and the sweep's next send runs it to the end."""
    _setup(any_engine)
    broken = {"left": 1}

    class Fragile(Port):
        def write(self) -> None:
            with self._ports.session() as s:
                s.add(SiteMessage(tenant_id="t-alpha", user_id="u-al", kind="info", title="written", body="",
                                  link={}))
                s.flush()
                if broken["left"]:
                    broken["left"] -= 1
                    s.connection().invalidate()  # the connection is gone under the open transaction
                    s.flush()
                    s.execute(select(func.count()).select_from(SiteMessage))

    any_engine.ports.register("fragile", Fragile)

    def operate(amount: Any, label: str) -> dict[str, Any]:
        current().fragile.write()
        return {"done": label}

    operators.operator("test/job", mode="async")(operate)
    inst = any_engine.runtime.start("jobs_async", tenant_id="t-alpha", variables={"amount": 1, "seq": 8})
    [job] = _jobs(any_engine, inst.id)
    assert (job.status, job.attempt, job.error) == ("queued", 1, None)
    assert job.next_attempt_at <= frozen.now()  # the claim's lease is given back: no 15-minute wait
    with any_engine.db.read() as s:
        assert s.get(ProcessInstance, inst.id).status == "running"
        assert s.scalar(select(func.count()).select_from(Incident)) == 0
    assert _messages(any_engine, "u-al") == []  # the broken call's write was rolled back
    frozen.advance(timedelta(seconds=5))
    assert any_engine.jobs.requeue_lost_jobs(0) == [job.id]
    with any_engine.db.read() as s:
        assert s.get(ProcessInstance, inst.id).status == "completed"
    assert [(j.status, j.attempt) for j in _jobs(any_engine, inst.id)] == [("done", 1)]
    assert [m.title for m in _messages(any_engine, "u-al")] == ["written"]


def test_a_statement_the_database_refuses_every_time_is_an_incident_not_a_retry_loop(engine, operators):
    """Only a broken connection (or a busy SQLite) means "run it again": an error the database gives
    on every try (here SQLite's OperationalError for a missing table) would loop for ever."""
    _setup(engine)

    class Wrong(Port):
        def read(self) -> None:
            with self._ports.reading() as s:
                s.execute(text("SELECT missing FROM no_such_table"))

    engine.ports.register("wrong", Wrong)
    operators.operator("test/job", mode="async")(lambda amount, label: current().wrong.read())
    inst = engine.runtime.start("jobs_async", tenant_id="t-alpha", variables={"amount": 1, "seq": 9})
    [job] = _jobs(engine, inst.id)
    assert job.status == "failed" and "no_such_table" in job.error["message"]
    with engine.db.read() as s:
        assert s.get(ProcessInstance, inst.id).status == "incident"


def test_without_a_dispatcher_the_async_operator_runs_inline_in_the_step(engine, operators):
    _setup(engine)
    engine.runtime.async_enabled = False  # an engine with no job dispatcher
    seen: dict[str, Any] = {}
    operators.operator("test/job", mode="async")(_notify(engine, seen))
    inst = engine.runtime.start("jobs_async", tenant_id="t-alpha", variables={"amount": 1, "seq": 7})
    assert inst.status == "completed" and _jobs(engine, inst.id) == []
    assert seen["committed_while_running"] == 0  # inline: the write commits with the step, not before
    assert seen["refused"] == "UNKNOWN_TENANT" and seen["scope"].tenant_id == "t-alpha"
    assert [m.title for m in _messages(engine, "u-al")] == ["built vm-7"]
