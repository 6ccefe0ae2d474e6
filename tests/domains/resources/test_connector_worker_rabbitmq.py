"""``connector/create`` as a job through a real RabbitMQ broker and a real ``aicmp worker`` process
on PostgreSQL: the worker reads the account's credentials and records the resource through the
resources port, for the instance's tenant, with no transaction held around the provider call;
another tenant's process is refused the account."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from connectors import simulator
from engine.config import Settings
from engine.core import Engine
from engine.domains.resources import service
from engine.domains.resources.accounts import SIMULATOR_STATE
from engine.domains.resources.models import CloudResource
from engine.models import Incident, Job, ProcessInstance, Tenant
from tasks.registry import REGISTRY, OperatorRegistry
from tests.domains.resources.test_connector_flow import ALPHA, BPMN, KEY
from tests.workers import ROOT, Worker, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

CREDENTIALS_KEY = "worker-test-credentials-key-0123456789abcdef"


@pytest.fixture
def setup(rabbitmq_server, postgres_database_url, tmp_path) -> Iterator[tuple[Engine, Callable[[], Worker]]]:
    queue = f"aicmp-test-{uuid.uuid4().hex[:8]}"
    settings = Settings(var_dir=tmp_path, database_url=postgres_database_url, broker_url=rabbitmq_server.url,
                        job_queue=queue, credentials_key=CREDENTIALS_KEY)
    operators = OperatorRegistry()
    for name in REGISTRY.names():
        if name.startswith("connector/"):
            operators.register(REGISTRY.get(name))
    engine = Engine(settings, operators=operators)
    with engine.db.write() as s:
        s.add_all([Tenant(id="t-alpha", code="alpha", name="Alpha"), Tenant(id="t-beta", code="beta", name="Beta")])
    env = {**os.environ, "AICMP_DATABASE_URL": postgres_database_url, "AICMP_BROKER_URL": rabbitmq_server.url,
           "AICMP_JOB_QUEUE": queue, "AICMP_VAR_DIR": str(tmp_path), "AICMP_CREDENTIALS_KEY": CREDENTIALS_KEY,
           "PYTHONPATH": str(ROOT)}
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


def _status(engine: Engine, instance_id: str) -> str:
    with engine.db.read() as s:
        return s.get(ProcessInstance, instance_id).status


def test_a_worker_creates_the_resource_through_the_port_for_the_instances_tenant(setup):
    engine, new_worker = setup
    engine.registry.deploy({"provision.bpmn": BPMN})
    account = service.create_account(engine, ALPHA, name="alpha", provider_type="simulator",
                                     endpoint="sim://alpha-cloud", credentials={"api_key": KEY})
    worker = new_worker()
    wait_for(worker.ready, "worker ready", [worker])

    mine = engine.runtime.start("provision_vm", tenant_id="t-alpha",
                                variables={"account_id": account["id"], "line": 1, "retries": 0})
    theirs = engine.runtime.start("provision_vm", tenant_id="t-beta",
                                  variables={"account_id": account["id"], "line": 2, "retries": 0})
    wait_for(lambda: _status(engine, mine.id) == "completed", "instance completed", [worker])
    wait_for(lambda: _status(engine, theirs.id) == "incident", "the other tenant's instance refused", [worker])
    with engine.db.read() as s:
        data = engine.runtime.load(s, s.get(ProcessInstance, mine.id)).workflow.data
        jobs = {j.instance_id: (j.status, j.attempt) for j in s.scalars(select(Job))}
        resources = [(r.tenant_id, r.client_token) for r in s.scalars(select(CloudResource))]
        incident = s.scalars(select(Incident).where(Incident.instance_id == theirs.id)).one()
    assert data["vm"]["client_token"] == "order-1" and data["vm"]["status"] == "running"
    assert jobs == {mine.id: ("done", 1), theirs.id: ("failed", 1)}
    assert resources == [("t-alpha", "order-1")]  # recorded once, for the instance's tenant
    assert incident.error_code == "UNKNOWN_ACCOUNT"
    assert simulator.count_resources(engine.settings.var_dir / SIMULATOR_STATE, "alpha-cloud") == 1
    assert KEY not in worker.text()
    assert worker.stop() < 30
