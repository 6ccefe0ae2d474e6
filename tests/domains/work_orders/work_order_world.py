"""A seeded engine for the work order tests: the demo tenants and users, the product's processes
(bpmn/work_order.bpmn among them), a caller process that calls ``work_order`` the way provisioning
and termination do (a call activity with ``work_order_request`` in, ``work_order_outcome`` out),
orders written straight into their tables, and the inbox as the operations person and the
applicant use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.config import Settings
from engine.core import Engine
from engine.domains.applications.models import Application
from engine.domains.orders.models import Order
from engine.domains.work_orders.models import WorkOrder
from engine.inbox import Inbox
from engine.models import BusinessSystem, HumanTask, ProcessInstance, Role, Tenant, User, UserRole
from engine.principal import Principal
from seed import seed

PASSWORD = "Demo-Passw0rd!"
CALLER = "wo_caller"  # an internal process of the test, standing in for provisioning or termination


def caller_bpmn(key: str) -> bytes:
    """A process ``key`` that only calls ``work_order``: the stand-in for provisioning or termination."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d_{key}"
                  targetNamespace="https://aicmp.dev/test">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call_work_order" calledElement="work_order">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call_work_order" />
    <bpmn:sequenceFlow id="f2" sourceRef="call_work_order" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>""".encode()


CALLER_BPMN = caller_bpmn(CALLER)


def principal(engine: Engine, username: str) -> Principal:
    with engine.db.read() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
        roles = tuple(s.scalars(select(Role.code).join(UserRole, UserRole.role_id == Role.id)
                                .where(UserRole.user_id == user.id)))
    return Principal(user.id, user.username, user.tenant_id, user.organization_id, roles)


class World:
    def __init__(self, url: str, tmp_path: Path) -> None:
        self.engine = Engine(Settings(var_dir=tmp_path, database_url=url, argon2_profile="test"))
        seed(self.engine, demo_password=PASSWORD, announce=None)
        self.engine.registry.deploy({f"{CALLER}.bpmn": CALLER_BPMN}, actor="test")
        self.engine.runtime.internal_keys.add(CALLER)
        self.inbox = getattr(self.engine, "inbox", None) or Inbox(self.engine)
        with self.engine.db.read() as s:
            self.tenant = {t.code: t.id for t in s.scalars(select(Tenant))}
        self.operator = principal(self.engine, "operator")
        self.admin = principal(self.engine, "admin")
        self.alpha_admin = principal(self.engine, "alpha-admin")
        self.alpha_user = principal(self.engine, "alpha-user")
        self.beta_admin = principal(self.engine, "beta-admin")
        self._orders = 0

    def close(self) -> None:
        self.engine.close()

    def order(self, tenant: str = "alpha", applicant: str = "alpha-user") -> str:
        """An order of ``tenant`` whose applicant is ``applicant`` (rows written directly)."""
        user = principal(self.engine, applicant)
        self._orders += 1
        n = self._orders
        with self.engine.db.write() as s:
            tid = self.tenant[tenant]
            system = s.scalar(select(BusinessSystem.id).where(BusinessSystem.tenant_id == tid).limit(1))
            app = Application(tenant_id=tid, number=f"AP-WO-{n}", title="Licence server", applicant_id=user.user_id,
                              applicant=user.username, organization_id=user.organization_id,
                              business_system_id=system, status="ordered", quota_state="committed")
            s.add(app)
            s.flush()
            order = Order(tenant_id=tid, number=f"OR-WO-{n}", application_id=app.id,
                          organization_id=user.organization_id, business_system_id=system,
                          applicant=user.username, status="created")
            s.add(order)
            s.flush()
            return order.id

    def request(self, **more: Any) -> dict[str, Any]:
        values: dict[str, Any] = {"kind": "delivery", "title": "Install a licence server", "details": {"seats": 5},
                                  "order_id": None, "resource_id": None, "unit_id": None, "source_key": "test:1"}
        return {**values, **more}

    def call(self, tenant: str = "alpha", initiator: str = "alpha-user", **request: Any) -> ProcessInstance:
        """Start the caller, which calls ``work_order`` with ``work_order_request``."""
        return self.engine.runtime.start(CALLER, tenant_id=self.tenant[tenant], initiator=initiator,
                                         business_key=request.get("source_key", "test:1"),
                                         variables={"work_order_request": self.request(**request),
                                                    "caller_only": "stays with the caller"})

    def work_order(self, source_key: str = "test:1", tenant: str = "alpha") -> WorkOrder:
        with self.engine.db.read() as s:
            return s.scalars(select(WorkOrder).where(WorkOrder.tenant_id == self.tenant[tenant],
                                                     WorkOrder.source_key == source_key)).one()

    def task(self, instance_id: str, spec: str) -> HumanTask | None:
        with self.engine.db.read() as s:
            return s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                     HumanTask.task_spec == spec)).first()

    def inbox_specs(self, who: Principal) -> list[str]:
        page = self.inbox.list_tasks(who.tenant_id, who.username, list(who.roles))
        return [t.task_spec for t in page.items]

    def complete(self, who: Principal, task_id: str, data: dict[str, Any]) -> None:
        self.inbox.complete(who.tenant_id, task_id, user=who.username, roles=list(who.roles), data=data)

    def instance(self, instance_id: str) -> ProcessInstance:
        with self.engine.db.read() as s:
            return s.get(ProcessInstance, instance_id)

    def data(self, instance_id: str) -> dict[str, Any]:
        """The finished caller's data (its end task's)."""
        with self.engine.db.read() as s:
            loaded = self.engine.runtime.load(s, s.get(ProcessInstance, instance_id))
            return dict(loaded.workflow.data)
