"""The stack a reliability test (and bench_provisioning) runs: PostgreSQL, RabbitMQ, real
``aicmp worker`` processes and a simulated cloud, with the calling process as the API (it starts
instances and reads the database).

``Stack.build`` seeds the engine as ``aicmp seed`` does (tenants, organisations, users and the
product processes of bpmn/: ``provisioning``, ``termination``, ``work_order``), adds a spec with an
on-demand price plan, registers a simulator account for tenant alpha and synchronises its pools.
``order(n)`` writes an approved application and its order with one line of ``n`` copies, as
``orders/create`` leaves them; ``provision(order)`` starts the real ``provisioning`` process on it
with a placement choice that puts every copy on the first pool (what ``order`` does after
``billing/price_order``). The readers answer what every test asks: did every instance settle, how
many resources exist per unit at the provider and in the platform, how many were billed.

Time: the workers load ``tests.plugins.shifted_clock`` and this process uses the same clock, so
``pass_backoffs`` lets provisioning's back-offs (30 s, 2 min, 10 min) pass at once; ``at_rest``
waits until each instance ended or waits for operations, ``resolve_work_orders`` answers them
(operations, then the applicant), ``approve_all`` approves a termination's steps.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors import simulator
from engine import clock
from engine.config import Settings
from engine.core import Engine
from engine.domains.applications.models import Application
from engine.domains.billing import plans
from engine.domains.billing.models import BillLine, RatedResource
from engine.domains.catalog import service as catalog
from engine.domains.catalog.models import ProductSpec
from engine.domains.orders.models import Order, OrderItem
from engine.domains.provisioning.models import ProvisioningUnit
from engine.domains.resources import service as resources
from engine.domains.resources.accounts import SIMULATOR_STATE
from engine.domains.resources.models import CloudResource, ResourcePool
from engine.domains.resources.sync import sync_account
from engine.domains.work_orders.models import WorkOrder
from engine.models import (
    BusinessSystem,
    DueTimer,
    HumanTask,
    Incident,
    Job,
    Organization,
    ProcessInstance,
    Role,
    Tenant,
    User,
    UserRole,
)
from engine.principal import Principal
from engine.tenancy import quotas
from seed import seed
from tasks.quota import demand
from tests.plugins.shifted_clock import ShiftedClock
from tests.servers import Server
from tests.workers import ROOT, Worker, wait_for

STAFF = Principal("u-admin", "admin", None, None, ("platform_admin",))
KEY = "reliability-api-key-0123456789"
CREDENTIALS_KEY = "reliability-credentials-key-0123456789abcdef"
PASSWORD = "Reliability-Passw0rd!"
CLOUD = "rel-cloud"
SETTLED = ("completed", "incident", "error", "terminated")  # an instance that no longer moves by itself
JOB_LOST_AFTER_S = 3  # the sweep re-sends a job whose message never reached the broker after this
BACKOFFS = ("u_backoff", "u_poll_wait")  # provisioning's waits a test lets pass at once (not the work order's)
OPERATOR = Principal("u-operator", "operator", None, None, ("platform_operator",))


def skip_or_fail(reason: str) -> None:
    """Skip a test whose server is not installed, or fail it under AICMP_REQUIRE_SERVERS=1 (CI)."""
    if os.environ.get("AICMP_REQUIRE_SERVERS", "") not in ("", "0"):
        pytest.fail(f"{reason} (AICMP_REQUIRE_SERVERS=1)", pytrace=False)
    pytest.skip(reason)


@dataclass
class Stack:
    engine: Engine
    env: dict[str, str]
    tmp: Path
    broker: Server | None
    tenant_id: str = ""
    alpha: Principal | None = None
    account_id: str = ""
    pool_id: str = ""
    spec_id: str = ""
    workers: list[Worker] = field(default_factory=list)
    shifted: ShiftedClock | None = None
    _previous_clock: clock.Clock | None = None
    _orders: int = 0

    @classmethod
    def build(cls, database_url: str, broker: Server | None, tmp: Path) -> Stack:
        """``broker`` None: the embedded default (jobs run in this process, eagerly)."""
        queue = f"aicmp-rel-{uuid.uuid4().hex[:8]}"  # a shared broker outlives the test: a queue of our own
        settings = Settings(var_dir=tmp, database_url=database_url, broker_url=broker.url if broker else "",
                            job_queue=queue, credentials_key=CREDENTIALS_KEY, job_lost_after_s=JOB_LOST_AFTER_S,
                            argon2_profile="test")
        engine = Engine(settings)
        env = {**os.environ, "AICMP_DATABASE_URL": database_url, "AICMP_BROKER_URL": settings.broker_url,
               "AICMP_JOB_QUEUE": queue, "AICMP_VAR_DIR": str(tmp), "AICMP_CREDENTIALS_KEY": CREDENTIALS_KEY,
               "AICMP_JOB_LOST_AFTER_S": str(JOB_LOST_AFTER_S), "AICMP_ARGON2_PROFILE": "test",
               "AICMP_OPERATOR_MODULES": "tests.plugins.shifted_clock",
               "AICMP_TEST_CLOCK_FILE": str(tmp / "clock-offset"), "PYTHONPATH": str(ROOT)}
        stack = cls(engine=engine, env=env, tmp=tmp, broker=broker)
        stack.shifted = ShiftedClock(tmp / "clock-offset")  # the workers' time, and this process's
        stack._previous_clock = clock.use(stack.shifted)
        seed(engine, demo_password=PASSWORD, announce=lambda _m: None)
        with engine.db.read() as s:
            stack.tenant_id = s.scalar(select(Tenant.id).where(Tenant.code == "alpha"))
            admin = s.scalars(select(User).where(User.username == "alpha-admin")).one()
        stack.alpha = Principal(admin.id, admin.username, admin.tenant_id, admin.organization_id, ("tenant_admin",))
        stack.spec_id = stack._priced_spec()
        with engine.db.read() as s:
            orgs = {o.code: o.id for o in s.scalars(select(Organization)
                                                    .where(Organization.tenant_id == stack.tenant_id))}
        admin = stack.principal("admin")
        for org in (None, orgs["hq"], orgs["research"]):  # room for every order a test or benchmark makes
            quotas.set_totals(engine, admin, {"vcpu": 100000, "memory_gib": 1000000, "disk_gib": 10000000,
                                              "instances": 100000}, tenant_id=stack.tenant_id, organization_id=org)
        stack.account_id = resources.create_account(engine, stack.alpha, name="rel", provider_type="simulator",
                                                    endpoint=f"sim://{CLOUD}", credentials={"api_key": KEY})["id"]
        sync_account(engine, stack.alpha, stack.account_id, resources=False)
        with engine.db.read() as s:
            stack.pool_id = s.scalars(select(ResourcePool.id).where(ResourcePool.account_id == stack.account_id)
                                      .order_by(ResourcePool.name)).first()
        assert stack.pool_id, "the simulator account's sync made no pool"
        return stack

    def _priced_spec(self) -> str:
        top = catalog.create_category(self.engine, STAFF, code="rel-compute", name="Compute")
        product = catalog.create_product(self.engine, STAFF, code="rel-vm", name="VM", category_id=top["id"], specs=[
            {"code": "2c4g", "name": "2 vCPU 4 GiB", "vcpu": 2, "memory_gib": "4", "disk_gib": "20",
             "instances": 1}])
        spec_id = product["specs"][0]["id"]
        with self.engine.db.write() as s:
            plans.create(s, {"code": "rel-vm-monthly", "name": "VM by the month", "target_kind": "spec",
                             "target": spec_id, "billing_mode": "on_demand", "unit": "month",
                             "unit_price": "100", "valid_from": "2020-01-01T00:00:00+00:00"}, actor="admin")
        return spec_id

    # -- the simulated cloud ---------------------------------------------------------------------

    @property
    def state(self) -> Path:
        return self.tmp / SIMULATOR_STATE

    def cloud(self, latency_ms: int = 0) -> None:
        """(Re)configure the simulated cloud: no faults, the given latency, its resources kept."""
        simulator.configure(self.state, CLOUD, api_key=KEY, latency_ms=latency_ms)

    def fault(self, op: str, nth: int, kind: str, error: str = "Unreachable") -> None:
        simulator.add_fault(self.state, CLOUD, op=op, nth=nth, kind=kind, error=error)

    def at_provider(self, client_token: str) -> int:
        return simulator.count_resources(self.state, CLOUD, client_token=client_token)

    def provider_total(self) -> int:
        return simulator.count_resources(self.state, CLOUD)

    def provider_calls(self, op: str) -> int:
        """How many ``op`` calls reached the simulated cloud since it was last configured."""
        conn = sqlite3.connect(self.state)
        try:
            row = conn.execute("SELECT n FROM calls WHERE cloud = ? AND op = ?", (CLOUD, op)).fetchone()
            return row[0] if row else 0
        finally:
            conn.close()

    def provider_status(self, client_token: str) -> str | None:
        conn = sqlite3.connect(self.state)
        try:
            row = conn.execute("SELECT status FROM resources WHERE cloud = ? AND client_token = ?",
                               (CLOUD, client_token)).fetchone()
            return row[0] if row else None
        finally:
            conn.close()

    def principal(self, username: str) -> Principal:
        with self.engine.db.read() as s:
            user = s.scalars(select(User).where(User.username == username)).one()
            roles = tuple(s.scalars(select(Role.code).join(UserRole, UserRole.role_id == Role.id)
                                    .where(UserRole.user_id == user.id)))
        return Principal(user.id, user.username, user.tenant_id, user.organization_id, roles)

    def approve_all(self) -> int:
        """Every open step of a resource approval (bpmn/resource_approval.bpmn: the organisation's
        approver, the escalation to the tenant administrator, the platform's operators), approved;
        how many."""
        who = {"org_approve": "alpha-approver", "admin_approve": "alpha-admin", "platform_approve": "operator"}
        tasks = [t for t in self.open_tasks() if t.task_spec in who]
        for task in tasks:
            p = self.principal(who[task.task_spec])
            self.engine.inbox.complete(task.tenant_id, task.id, user=p.username, roles=p.roles,
                                       data={"decision": "approve", "comment": None})
        return len(tasks)

    # -- workers ------------------------------------------------------------------------------------

    def worker(self, concurrency: int = 1, ready: bool = True) -> Worker:
        w = Worker(self.env, self.tmp / f"worker-{len(self.workers) + 1}.log", concurrency=concurrency)
        self.workers.append(w)
        if ready:
            wait_for(w.ready, "worker ready", [w])
        return w

    def close(self) -> None:
        for w in self.workers:
            w.kill()
        self.engine.close()
        if self._previous_clock is not None:
            clock.use(self._previous_clock)

    # -- orders and their provisioning ---------------------------------------------------------------

    def order(self, copies: int = 1) -> dict[str, str]:
        """An approved application of alpha-user and its order (one line, ``copies`` copies)."""
        self._orders += 1
        n = self._orders
        with self.engine.db.write() as s:
            user = s.scalars(select(User).where(User.username == "alpha-user")).one()
            org = s.get(Organization, user.organization_id)
            system = s.scalar(select(BusinessSystem.id).where(BusinessSystem.tenant_id == self.tenant_id))
            app = Application(tenant_id=self.tenant_id, number=f"APP-REL-{n:05d}", title="reliability",
                              applicant_id=user.id, applicant=user.username, organization_id=org.id,
                              business_system_id=system, status="approved")
            s.add(app)
            s.flush()
            order = Order(tenant_id=self.tenant_id, number=f"ORD-REL-{n:05d}", application_id=app.id,
                          organization_id=org.id, business_system_id=system, applicant=user.username)
            s.add(order)
            s.flush()
            spec = s.get(ProductSpec, self.spec_id)
            s.add(OrderItem(order_id=order.id, tenant_id=self.tenant_id, position=0, product_id=spec.product_id,
                            spec_id=spec.id, product_name="VM", spec_name=spec.name, quantity=copies, vcpu=2,
                            memory_gib=Decimal(4), disk_gib=Decimal(20), instances=1))
            # the quota the approval reserved and ``quota/commit`` turned into used (termination gives it back)
            amounts = demand([{"quantity": copies, "vcpu": 2, "memory_gib": "4", "disk_gib": "20", "instances": 1}])
            quotas.reserve(s, self.tenant_id, org.id, amounts)
            quotas.commit_reserved(s, self.tenant_id, org.id, amounts)
            return {"order_id": order.id, "number": order.number, "application_id": app.id}

    def provision(self, order: dict[str, str], copies: int = 1, pool_id: str | None = None) -> str:
        """Start ``provisioning`` for the order, every copy placed on ``pool_id`` (default: the
        account's first pool)."""
        choice = {"objective": "cost", "weights": None, "placed": copies, "cost": "0", "performance": "0",
                  "max_util": "0", "assignments": [{"request_id": "item1", "pool_id": pool_id or self.pool_id,
                                                     "copies": copies}]}
        return self.engine.runtime.start(
            "provisioning", tenant_id=self.tenant_id, initiator="alpha-user", business_key=order["application_id"],
            variables={"order": {"order_id": order["order_id"], "number": order["number"]},
                       "application_id": order["application_id"], "placement_choice": choice}).id

    def units(self, order_id: str | None = None) -> list[ProvisioningUnit]:
        with self.engine.db.read() as s:
            q = select(ProvisioningUnit).order_by(ProvisioningUnit.created_at)
            if order_id:
                q = q.where(ProvisioningUnit.order_id == order_id)
            rows = list(s.scalars(q))
            s.expunge_all()
            return rows

    def order_status(self, order_id: str) -> str:
        with self.engine.db.read() as s:
            return s.get(Order, order_id).status

    # -- instances ----------------------------------------------------------------------------------

    def statuses(self, ids: list[str]) -> dict[str, str]:
        with self.engine.db.read() as s:
            return dict(s.execute(select(ProcessInstance.id, ProcessInstance.status)
                                  .where(ProcessInstance.id.in_(ids))).all())

    def settle(self, ids: list[str], timeout: float = 90.0) -> dict[str, str]:
        """Wait until no instance moves by itself any more; their statuses."""
        def done() -> dict[str, str] | None:
            found = self.statuses(ids)
            return found if len(found) == len(ids) and all(v in SETTLED for v in found.values()) else None
        return wait_for(done, f"{len(ids)} instances settled", self.workers, timeout=timeout)  # type: ignore[return-value]

    def data(self, instance_id: str) -> dict[str, Any]:
        with self.engine.db.read() as s:
            return self.engine.runtime.load(s, s.get(ProcessInstance, instance_id)).workflow.data

    def incidents(self) -> list[tuple[str, str]]:
        with self.engine.db.read() as s:
            return [(i.error_code, i.message) for i in s.scalars(select(Incident))]

    def jobs(self) -> dict[str, int]:
        with self.engine.db.read() as s:
            return dict(s.execute(select(Job.status, func.count()).group_by(Job.status)).all())

    # -- what exists ------------------------------------------------------------------------------

    def platform_resources(self) -> dict[str, list[str]]:
        """client token -> the cloud_resources ids recorded with it."""
        with self.engine.db.read() as s:
            out: dict[str, list[str]] = {}
            for token, rid in s.execute(select(CloudResource.client_token, CloudResource.id)):
                out.setdefault(token, []).append(rid)
            return out

    def billed(self) -> dict[str, int]:
        """resource ref -> how many rated resources were opened for it."""
        with self.engine.db.read() as s:
            return dict(s.execute(select(RatedResource.resource_ref, func.count())
                                  .group_by(RatedResource.resource_ref)).all())

    def rated_lines(self, resource_ref: str) -> list[tuple[str, str]]:
        """The rated bill lines of one resource: (day, amount)."""
        with self.engine.db.read() as s:
            rated = s.scalar(select(RatedResource.id).where(RatedResource.resource_ref == resource_ref))
            return [(str(day), str(amount)) for day, amount in s.execute(
                select(BillLine.day, BillLine.amount).where(BillLine.target_key == f"res:{rated}",
                                                            BillLine.kind == "rated"))]

    def stopped(self, resource_ref: str) -> list[Any]:
        with self.engine.db.read() as s:
            return list(s.scalars(select(RatedResource.stopped_at).where(RatedResource.resource_ref == resource_ref)))

    # -- time, work orders ---------------------------------------------------------------------------

    def pass_backoffs(self) -> bool:
        """Move every process's clock past the earliest pending back-off or poll wait; False if none."""
        with self.engine.db.read() as s:
            due = s.scalar(select(func.min(DueTimer.due_at)).where(DueTimer.status == "pending",
                                                                   DueTimer.task_spec.in_(BACKOFFS)))
        if due is None:
            return False
        if due.tzinfo is None:
            due = due.replace(tzinfo=clock.now().tzinfo)
        self.shifted.advance(max(0.0, (due - clock.now()).total_seconds()) + 1.5)
        return True

    def open_tasks(self, spec: str | None = None) -> list[HumanTask]:
        with self.engine.db.read() as s:
            q = select(HumanTask)
            rows = list(s.scalars(q.where(HumanTask.task_spec == spec) if spec else q))
            s.expunge_all()
            return rows

    def work_orders(self) -> list[WorkOrder]:
        with self.engine.db.read() as s:
            rows = list(s.scalars(select(WorkOrder)))
            s.expunge_all()
            return rows

    def at_rest(self, ids: list[str], timeout: float = 90.0) -> dict[str, str]:
        """Wait until every instance has ended or waits for operations (an open ``deliver`` task),
        letting back-offs pass meanwhile; their statuses."""
        def resting() -> dict[str, str] | None:
            found = self.statuses(ids)
            waiting = {t.instance_id for t in self.open_tasks("deliver")}
            if len(found) == len(ids) and all(v in SETTLED or i in waiting for i, v in found.items()):
                return found
            self.pass_backoffs()
            return None
        return wait_for(resting, f"{len(ids)} instances at rest", self.workers, timeout=timeout)  # type: ignore[return-value]

    def resolve_work_orders(self, result: str = "cannot_do") -> int:
        """Operations return every open work order (``result``), the applicant accepts; how many."""
        done = 0
        for task in self.open_tasks("deliver"):
            self.engine.inbox.complete(task.tenant_id, task.id, user=OPERATOR.username, roles=OPERATOR.roles,
                                       data={"result": result, "notes": "reliability test: operations answered"})
            done += 1
        for task in wait_for(lambda: self.open_tasks("evaluate") if done else [None], "evaluate tasks",
                             self.workers):  # type: ignore[union-attr]
            if task is None:
                break
            self.engine.inbox.complete(task.tenant_id, task.id, user=task.assignee or "alpha-user",
                                       roles=("tenant_user",), data={"evaluation": "accept", "comment": None})
        return done
