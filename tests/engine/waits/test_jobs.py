"""Async operators as jobs, embedded (Celery eager) on SQLite and PostgreSQL: sent after commit,
applied once, stale results ignored, retries with backoff, BPMN errors and incidents."""

from __future__ import annotations

import inspect
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine import clock
from engine.config import Settings
from engine.jobs import Outcome, decode, encode
from engine.models import Incident, Job, ProcessInstance, TaskHistory
from engine.periodic import Periodic, PeriodicRunner, periodic_work
from engine.runtime.steps import advance
from engine.worker.main import run_worker
from tasks.registry import OperatorError
from tests.helpers import T0, read

FILES = {"jobs_async.bpmn": read("jobs_async.bpmn")}




def start(engine, amount=Decimal("2.50")):
    engine.registry.deploy(FILES)
    return engine.runtime.start("jobs_async", tenant_id="t-alpha", variables={"amount": amount, "seq": 7})


def instance(engine, instance_id: str) -> ProcessInstance:
    with engine.db.read() as s:
        return s.get(ProcessInstance, instance_id)


def jobs_of(engine, instance_id: str) -> list[Job]:
    with engine.db.read() as s:
        return list(s.scalars(select(Job).where(Job.instance_id == instance_id).order_by(Job.created_at)))


def the_job(engine) -> Job:
    with engine.db.read() as s:
        return s.scalars(select(Job)).one()


def the_instance_id(engine) -> str:
    with engine.db.read() as s:
        return s.scalars(select(ProcessInstance.id)).one()


def workflow(engine, instance_id: str):
    with engine.db.read() as s:
        return engine.runtime.load(s, s.get(ProcessInstance, instance_id)).workflow


def call_state(engine, instance_id: str) -> int:
    [task] = [t for t in workflow(engine, instance_id).get_tasks() if t.task_spec.bpmn_id == "call"]
    return task.state


def completions(engine, instance_id: str, spec: str = "call") -> int:
    with engine.db.read() as s:
        return len(list(s.scalars(select(TaskHistory).where(
            TaskHistory.instance_id == instance_id, TaskHistory.task_spec == spec,
            TaskHistory.state == "COMPLETED"))))


def incidents(engine, instance_id: str) -> list[Incident]:
    with engine.db.read() as s:
        return list(s.scalars(select(Incident).where(Incident.instance_id == instance_id)))


# -- the happy path ----------------------------------------------------------------------------

def test_operator_runs_after_the_commit_and_its_result_completes_the_task(any_engine, operators):
    seen = {}

    def operate(amount, label):
        # outside any transaction, after the commit: the instance and its queued job are visible
        # to another session, and the database takes a write (SQLite would time out if locked)
        with any_engine.db.read() as s:
            row = s.scalars(select(ProcessInstance)).one()
            job = s.scalars(select(Job)).one()
            seen.update(status=row.status, job=(job.status, job.attempt, job.max_attempts, job.backoff_base_s))
        with any_engine.db.write() as s:
            s.execute(select(1))
        return {"amount": amount, "label": label, "when": date(2026, 3, 2)}

    operators.operator("test/job", mode="async")(operate)
    inst = start(any_engine)
    assert seen == {"status": "running", "job": ("queued", 1, 3, 3)}
    row = instance(any_engine, inst.id)
    assert row.status == "completed"
    data = workflow(any_engine, inst.id).data
    assert data["answer"] == {"amount": Decimal("2.50"), "label": "vm-7", "when": date(2026, 3, 2)}
    assert isinstance(data["answer"]["amount"], Decimal)
    [job] = jobs_of(any_engine, inst.id)
    assert (job.status, job.attempt, job.operator, job.task_spec) == ("done", 1, "test/job", "call")
    assert decode(job.params) == {"amount": Decimal("2.50"), "label": "vm-7"}
    assert completions(any_engine, inst.id) == 1 and completions(any_engine, inst.id, "end_ok") == 1


def test_a_duplicate_result_is_applied_once(any_engine, operators):
    first = []

    def operate(amount, label):
        # a duplicate delivery of this same attempt finished first and applied its result
        job = the_job(any_engine)
        first.append(any_engine.jobs.apply(job.id, job.attempt, Outcome("result", value={"copy": 1})))
        return {"copy": 2}

    operators.operator("test/job", mode="async")(operate)
    inst = start(any_engine)
    assert first == ["done"]  # (asserted out here: the operator's own exceptions become incidents)
    assert instance(any_engine, inst.id).status == "completed"
    assert workflow(any_engine, inst.id).data["answer"] == {"copy": 1}
    job = the_job(any_engine)
    version = instance(any_engine, inst.id).lock_version
    # and a third, very late copy: nothing changes, nothing raises
    assert any_engine.jobs.apply(job.id, 1, Outcome("result", value={"copy": 3})) == "ignored"
    assert any_engine.jobs.run(job.id, 1) == "ignored"
    assert instance(any_engine, inst.id).lock_version == version
    assert completions(any_engine, inst.id) == 1 and completions(any_engine, inst.id, "end_ok") == 1


# -- stale results -------------------------------------------------------------------------------

def test_a_result_after_a_timer_cancelled_the_task_is_ignored(any_engine, operators, frozen):
    seen = []

    def operate(amount, label):
        # while the operator runs, its boundary timer (PT1H) fires and cancels the task
        frozen.advance(timedelta(hours=2))
        with any_engine.runtime.mutation(the_instance_id(any_engine), tenant_id=None, actor=None) as (_s, loaded):
            loaded.workflow.refresh_timers()
            advance(loaded.workflow, loaded.kind, loaded.host)
        seen.append(the_job(any_engine).status)
        return {"too": "late"}

    operators.operator("test/job", mode="async")(operate)
    inst = start(any_engine)
    assert seen == ["stale"]  # the timer's save already marked the job: its task left STARTED
    row = instance(any_engine, inst.id)
    assert row.status == "completed"
    assert "answer" not in workflow(any_engine, inst.id).data
    assert completions(any_engine, inst.id, "end_late") == 1
    assert completions(any_engine, inst.id) == 0 and completions(any_engine, inst.id, "end_ok") == 0
    assert the_job(any_engine).status == "stale"
    assert incidents(any_engine, inst.id) == []


def test_a_result_for_a_cancelled_instance_is_ignored(engine, operators):
    def operate(amount, label):
        engine.runtime.cancel(the_instance_id(engine), actor="admin")
        return {"too": "late"}

    operators.operator("test/job", mode="async")(operate)
    inst = start(engine)
    assert instance(engine, inst.id).status == "cancelled"
    assert "answer" not in workflow(engine, inst.id).data
    assert the_job(engine).status == "stale"
    assert completions(engine, inst.id) == 0


def test_a_result_for_a_suspended_instance_is_kept_and_applied_after_resume(engine, operators, frozen):
    calls = []

    def operate(amount, label):
        calls.append(label)
        engine.runtime.suspend(the_instance_id(engine), actor="admin")
        return {"built": label}

    operators.operator("test/job", mode="async")(operate)
    inst = start(engine)
    assert instance(engine, inst.id).status == "suspended"
    job = the_job(engine)
    assert job.status == "queued" and job.result["pending"]["kind"] == "result"
    assert call_state(engine, inst.id) == TaskState.STARTED

    engine.runtime.resume(inst.id, actor="admin")
    assert engine.jobs.requeue_lost_jobs(0) == []  # parked for a while, not sent at once
    frozen.advance(timedelta(seconds=31))
    assert engine.jobs.requeue_lost_jobs(0) == [job.id]
    assert instance(engine, inst.id).status == "completed"
    assert workflow(engine, inst.id).data["answer"] == {"built": "vm-7"}
    assert calls == ["vm-7"]  # the kept result was applied; the operator did not run again


# -- retries, BPMN errors, incidents ---------------------------------------------------------------

def test_operator_errors_are_retried_with_backoff_then_succeed(any_engine, operators, frozen):
    calls = []

    def operate(amount, label):
        calls.append(clock.now())
        if len(calls) < 3:
            raise OperatorError("BUSY", f"cloud busy ({len(calls)})", {"try": len(calls)})
        return {"ok": True}

    operators.operator("test/job", mode="async")(operate)
    inst = start(any_engine)
    job = the_job(any_engine)
    assert (job.status, job.attempt, job.next_attempt_at) == ("queued", 2, T0 + timedelta(seconds=3))  # 3**1
    assert job.error["code"] == "BUSY" and job.error["attempt"] == 1
    assert instance(any_engine, inst.id).status == "running"
    assert call_state(any_engine, inst.id) == TaskState.STARTED

    assert any_engine.jobs.requeue_lost_jobs(0) == []  # not due yet: nothing runs
    frozen.advance(timedelta(seconds=3))
    assert any_engine.jobs.requeue_lost_jobs(0) == [job.id]
    job = the_job(any_engine)
    assert (job.attempt, job.next_attempt_at) == (3, T0 + timedelta(seconds=3 + 9))  # 3**2
    frozen.advance(timedelta(seconds=8))
    assert any_engine.jobs.requeue_lost_jobs(0) == []
    frozen.advance(timedelta(seconds=1))
    assert any_engine.jobs.requeue_lost_jobs(0) == [job.id]

    assert calls == [T0, T0 + timedelta(seconds=3), T0 + timedelta(seconds=12)]
    assert instance(any_engine, inst.id).status == "completed"
    assert workflow(any_engine, inst.id).data["answer"] == {"ok": True}
    job = the_job(any_engine)
    assert (job.status, job.attempt) == ("done", 3)
    assert completions(any_engine, inst.id) == 1


def run_out_of_attempts(engine, frozen) -> None:
    for wait in (3, 9):
        frozen.advance(timedelta(seconds=wait))
        assert len(engine.jobs.requeue_lost_jobs(0)) == 1


def test_exhausted_retries_become_a_bpmn_error_caught_by_the_boundary_event(any_engine, operators, frozen):
    calls = []

    def operate(amount, label):
        calls.append(label)
        raise OperatorError("QUOTA_SHORT", "no GPUs left", {"pool": "a100"})

    operators.operator("test/job", mode="async")(operate)
    inst = start(any_engine)
    run_out_of_attempts(any_engine, frozen)
    assert len(calls) == 3
    assert instance(any_engine, inst.id).status == "completed"
    data = workflow(any_engine, inst.id).data
    assert data["failure"]["code"] == "QUOTA_SHORT" and data["failure"]["details"] == {"pool": "a100"}
    assert completions(any_engine, inst.id, "end_failed") == 1 and completions(any_engine, inst.id) == 0
    job = the_job(any_engine)
    assert (job.status, job.attempt, job.error["code"]) == ("failed", 3, "QUOTA_SHORT")
    assert incidents(any_engine, inst.id) == []


def test_exhausted_retries_without_a_catcher_become_an_incident_that_retry_clears(engine, operators, frozen):
    outcome = {"fail": True}

    def operate(amount, label):
        if outcome["fail"]:
            raise OperatorError("NO_REGION", "region closed")
        return {"region": "b"}

    operators.operator("test/job", mode="async")(operate)
    inst = start(engine)
    run_out_of_attempts(engine, frozen)
    assert instance(engine, inst.id).status == "incident"
    [incident] = incidents(engine, inst.id)
    assert (incident.kind, incident.error_code, incident.task_spec) == ("bpmn-error", "NO_REGION", "call")
    assert call_state(engine, inst.id) == TaskState.STARTED

    outcome["fail"] = False
    engine.runtime.retry_incident(incident.id, actor="operator")  # runs the task again: a new job
    assert instance(engine, inst.id).status == "completed"
    assert [(j.status, j.attempt) for j in jobs_of(engine, inst.id)] == [("failed", 3), ("done", 1)]
    assert workflow(engine, inst.id).data["answer"] == {"region": "b"}


def test_an_operator_crash_is_an_incident_without_retries(any_engine, operators):
    calls = []

    def operate(amount, label):
        calls.append(label)
        raise KeyError("flavor")

    operators.operator("test/job", mode="async")(operate)
    inst = start(any_engine)
    assert calls == ["vm-7"]  # the model allows 2 retries, but those are for OperatorError only
    assert instance(any_engine, inst.id).status == "incident"
    [incident] = incidents(any_engine, inst.id)
    assert incident.kind == "operator-error" and "KeyError" in incident.message
    job = the_job(any_engine)
    assert (job.status, job.error["kind"]) == ("failed", "exception")
    assert call_state(any_engine, inst.id) == TaskState.STARTED


# -- lost messages, wiring -------------------------------------------------------------------------

class _BrokerDown:
    eager = False

    def send(self, *args, **kwargs):
        raise ConnectionError("broker unreachable")


def test_a_job_whose_message_was_lost_is_sent_again_by_the_sweep(any_engine, operators, frozen):
    operators.operator("test/job", mode="async")(lambda amount, label: {"late": True})
    real = any_engine.jobs.sender
    any_engine.jobs.sender = _BrokerDown()
    inst = start(any_engine)  # the send fails after the commit: start still succeeds
    any_engine.jobs.sender = real
    assert instance(any_engine, inst.id).status == "running"
    job = the_job(any_engine)
    assert job.status == "queued"

    frozen.advance(timedelta(seconds=59))
    assert any_engine.jobs.requeue_lost_jobs(60) == []
    frozen.advance(timedelta(seconds=1))
    assert any_engine.jobs.requeue_lost_jobs(60) == [job.id]
    assert instance(any_engine, inst.id).status == "completed"
    assert workflow(any_engine, inst.id).data["answer"] == {"late": True}


def test_a_running_job_is_not_sent_again_while_its_lease_holds(engine, operators, frozen):
    swept = []

    def operate(amount, label):
        frozen.advance(timedelta(minutes=10))  # a long call: past the sweep's threshold
        swept.extend(engine.jobs.requeue_lost_jobs(60))
        return {"once": True}

    operators.operator("test/job", mode="async")(operate)
    inst = start(engine)
    assert swept == []
    assert instance(engine, inst.id).status == "completed"


def test_embedded_periodic_work_runs_due_retries(engine, operators, frozen):
    calls = []

    def operate(amount, label):
        calls.append(label)
        if len(calls) == 1:
            raise OperatorError("BUSY", "try later")
        return {"second": True}

    operators.operator("test/job", mode="async")(operate)
    inst = start(engine)
    [sweep] = [p for p in periodic_work(engine) if p.name == "jobs-sweep"]
    sweep.run()
    assert len(calls) == 1  # backoff not over
    frozen.advance(timedelta(seconds=3))
    sweep.run()
    assert len(calls) == 2 and instance(engine, inst.id).status == "completed"


def test_the_periodic_runner_survives_failures_and_stops():
    ran = threading.Event()
    count = {"ok": 0, "bad": 0}

    def ok():
        count["ok"] += 1
        if count["ok"] >= 3:
            ran.set()

    def bad():
        count["bad"] += 1
        raise RuntimeError("database away")

    runner = PeriodicRunner([Periodic("bad", 0.01, bad), Periodic("ok", 0.02, ok)]).start()
    try:
        assert ran.wait(10)
    finally:
        runner.stop()
    assert count["bad"] >= 3 and not runner._thread.is_alive()


def test_parameters_that_are_not_json_become_an_incident(any_engine, operators):
    calls = []
    operators.operator("test/job", mode="async")(lambda amount, label: calls.append(amount))
    any_engine.registry.deploy({"jobs_badparam.bpmn": read("jobs_badparam.bpmn")})
    inst = any_engine.runtime.start("jobs_badparam", tenant_id="t-alpha")
    assert calls == [] and jobs_of(any_engine, inst.id) == []
    assert instance(any_engine, inst.id).status == "incident"
    [incident] = incidents(any_engine, inst.id)
    assert incident.task_spec == "call" and "not JSON" in incident.message


def test_a_chain_of_async_tasks_runs_one_after_another_not_nested(engine, operators):
    depths = []

    def echo(value):
        depths.append(len(inspect.stack(0)))
        return {"value": value}

    operators.operator("test/slow/echo", mode="async")(echo)
    engine.registry.deploy({"jobs_echo.bpmn": read("jobs_echo.bpmn")})
    inst = engine.runtime.start("jobs_echo", tenant_id="t-alpha", variables={"value": 5})
    assert instance(engine, inst.id).status == "completed"
    assert workflow(engine, inst.id).data["echoed2"] == {"value": 5}
    assert len(depths) == 2 and depths[0] == depths[1]  # the second job ran after the first returned


def test_inline_operators_still_run_inline(engine, operators):
    operators.operator("test/job")(lambda amount, label: {"inline": label})
    inst = start(engine)
    assert inst.status == "completed"  # done inside start(), no job row
    assert jobs_of(engine, inst.id) == []


def test_the_worker_refuses_to_start_without_a_broker(tmp_path):
    with pytest.raises(SystemExit, match="AICMP_BROKER_URL"):
        run_worker(settings=Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'w.db'}",
                                     broker_url=""))


def test_params_and_results_keep_decimals_and_dates():
    value = {"a": Decimal("0.10"), "d": date(2026, 1, 2), "t": datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
             "l": [1, "x", None, True, 1.5], "n": {"$decimal": 5}}
    assert decode(encode(value)) == value
    with pytest.raises(TypeError):
        encode({"s": {1, 2}})
