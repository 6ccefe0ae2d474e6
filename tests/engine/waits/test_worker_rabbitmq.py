"""Jobs through a real RabbitMQ broker and real ``aicmp worker`` processes on PostgreSQL:
a job runs in a worker and completes its instance; a worker killed with SIGKILL mid-call loses
nothing, and the job's result is applied exactly once by the worker that takes over."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.config import Settings
from engine.core import Engine
from engine.models import Job, ProcessInstance, TaskHistory, Tenant
from tasks.registry import OperatorRegistry
from tests.helpers import read
from tests.plugins import slow_operators
from tests.workers import ROOT, Worker, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


@pytest.fixture
def setup(rabbitmq_server, postgres_database_url, tmp_path) -> Iterator[tuple[Engine, Callable[[], Worker]]]:
    queue = f"aicmp-test-{uuid.uuid4().hex[:8]}"  # the broker outlives this test: a queue of our own
    settings = Settings(var_dir=tmp_path, database_url=postgres_database_url, broker_url=rabbitmq_server.url,
                        job_queue=queue)
    operators = OperatorRegistry()
    slow_operators.register(operators)
    engine = Engine(settings, operators=operators)
    with engine.db.write() as s:
        s.add(Tenant(id="t-alpha", code="alpha", name="Alpha"))
    env = {**os.environ, "AICMP_DATABASE_URL": postgres_database_url, "AICMP_BROKER_URL": rabbitmq_server.url,
           "AICMP_OPERATOR_MODULES": "tests.plugins.slow_operators", "AICMP_JOB_QUEUE": queue,
           "AICMP_VAR_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    workers: list[Worker] = []

    def new_worker() -> Worker:
        worker = Worker(env, tmp_path / f"worker-{len(workers) + 1}.log")
        workers.append(worker)
        return worker

    try:
        yield engine, new_worker
    finally:
        for worker in workers:
            worker.kill()
        engine.close()


def status(engine: Engine, instance_id: str) -> str:
    with engine.db.read() as s:
        return s.get(ProcessInstance, instance_id).status


def workflow(engine: Engine, instance_id: str):
    with engine.db.read() as s:
        return engine.runtime.load(s, s.get(ProcessInstance, instance_id)).workflow


def completions(engine: Engine, instance_id: str, spec: str = "call") -> int:
    with engine.db.read() as s:
        return len(list(s.scalars(select(TaskHistory).where(
            TaskHistory.instance_id == instance_id, TaskHistory.task_spec == spec,
            TaskHistory.state == "COMPLETED"))))


def test_workers_run_the_jobs_and_the_instance_completes(setup):
    engine, new_worker = setup
    engine.registry.deploy({"jobs_echo.bpmn": read("jobs_echo.bpmn")})
    worker = new_worker()
    wait_for(worker.ready, "worker ready", [worker])

    inst = engine.runtime.start("jobs_echo", tenant_id="t-alpha", variables={"value": {"n": Decimal("1.5")}})
    wait_for(lambda: status(engine, inst.id) == "completed", "instance completed", [worker])
    data = workflow(engine, inst.id).data
    assert data["echoed"]["value"] == data["echoed2"]["value"] == {"n": Decimal("1.5")}
    assert data["echoed"]["pid"] not in (os.getpid(), worker.proc.pid)  # ran in a pool child of the worker
    # the second job was queued and sent by the worker that applied the first result
    assert completions(engine, inst.id) == 1 and completions(engine, inst.id, "call2") == 1
    with engine.db.read() as s:
        assert [(j.task_spec, j.status) for j in s.scalars(select(Job).order_by(Job.created_at))] == [
            ("call", "done"), ("call2", "done")]
    assert worker.stop() < 30


def test_a_worker_killed_mid_call_loses_nothing_and_the_result_lands_once(setup, tmp_path):
    engine, new_worker = setup
    engine.registry.deploy({"jobs_blocking.bpmn": read("jobs_blocking.bpmn")})
    markers = tmp_path / "markers"
    markers.mkdir()
    started = markers / "started"

    def calls() -> list[str]:
        return started.read_text().split() if started.exists() else []

    first = new_worker()
    inst = engine.runtime.start("jobs_blocking", tenant_id="t-alpha", variables={"directory": str(markers)})
    wait_for(lambda: len(calls()) == 1, "the operator started in the first worker", [first])

    first.kill()
    with engine.db.read() as s:
        job = s.scalars(select(Job).where(Job.instance_id == inst.id)).one()
        assert (job.status, job.attempt) == ("queued", 1)
    [task] = [t for t in workflow(engine, inst.id).get_tasks() if t.task_spec.bpmn_id == "call"]
    assert task.state == TaskState.STARTED
    assert status(engine, inst.id) == "running" and completions(engine, inst.id) == 0

    (markers / "release").touch()
    second = new_worker()  # the broker hands it the unacknowledged message again
    wait_for(lambda: status(engine, inst.id) == "completed", "instance completed by the second worker",
             [first, second])
    first_pid, second_pid = calls()
    assert first_pid != second_pid  # the killed call, then the one that finished
    assert workflow(engine, inst.id).data["waited"] == {"released": True, "pid": int(second_pid)}
    assert completions(engine, inst.id) == 1
    with engine.db.read() as s:
        job = s.get(Job, job.id)
        assert (job.status, job.attempt) == ("done", 1)
    time.sleep(1.0)  # nothing else arrives late
    assert completions(engine, inst.id) == 1 and len(calls()) == 2
    second.stop()
