"""A seeded engine with a simulated cloud of three pools (a CPU zone, two A100 zones), price plans
for the demo specs, quotas for tenant alpha, and shortcuts to drive an order through provisioning.

The application is submitted through its real process (the quota is reserved), then marked
approved and its ``order`` process started with a placement choice given by the test: that is the
point where the application process hands over (``bpmn/application.bpmn`` calls ``order``), without
the placement step's user tasks in between. Everything after that is the real ``order`` and
``provisioning`` processes, operators reaching the database only through their ports, the
connector jobs running eagerly in this process.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors import simulator
from engine import clock
from engine.config import Settings
from engine.core import Engine
from engine.domains.applications import flow as application_flow
from engine.domains.applications import service as applications
from engine.domains.applications.models import Application
from engine.domains.billing import plans
from engine.domains.catalog.models import ProductSpec
from engine.domains.orders.models import Order
from engine.domains.provisioning.models import ProvisioningUnit
from engine.domains.resources import service as resources
from engine.domains.resources.accounts import SIMULATOR_STATE
from engine.domains.resources.models import ResourcePool
from engine.models import (
    BusinessSystem,
    HumanTask,
    Incident,
    Organization,
    ProcessInstance,
    Role,
    Tenant,
    User,
    UserRole,
)
from engine.principal import Principal
from engine.tenancy import quotas
from engine.timers import fire_due_timers
from seed import seed

PASSWORD = "Demo-Passw0rd!"
KEY = "provisioning-test-key-0123456789"
CLOUD = "lab"
ZONES = {"cpu": simulator.Zone(vcpu=64, memory_gib=256, disk_gib=4000),
         "a100-cheap": simulator.Zone(vcpu=64, memory_gib=1024, disk_gib=4000, gpus={"A100": 2}),
         "a100-dear": simulator.Zone(vcpu=64, memory_gib=1024, disk_gib=4000, gpus={"A100": 8})}


def principal(engine: Engine, username: str) -> Principal:
    with engine.db.read() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
        roles = tuple(s.scalars(select(Role.code).join(UserRole, UserRole.role_id == Role.id)
                                .where(UserRole.user_id == user.id)))
    return Principal(user.id, user.username, user.tenant_id, user.organization_id, roles)


class World:
    def __init__(self, engine: Engine, *, lab: bool = True) -> None:
        """``lab``: add the simulated cloud ``lab`` (three pools) and plans for the small and a100-1 specs."""
        self.bind(engine)
        if lab:
            self.add_lab()

    def bind(self, engine: Engine) -> None:
        """Names, principals and quotas (both tenants) of a seeded engine."""
        self.engine = engine
        self.state = engine.settings.var_dir / SIMULATOR_STATE
        with engine.db.read() as s:
            self.tenant = {t.code: t.id for t in s.scalars(select(Tenant))}
            self.spec = {sp.code: sp.id for sp in s.scalars(select(ProductSpec))}
        self.admin = principal(engine, "admin")
        self.user = principal(engine, "alpha-user")
        self.beta_user = principal(engine, "beta-user")
        self.operator = principal(engine, "operator")
        with engine.db.read() as s:
            orgs = {(o.tenant_id, o.code): o.id for o in s.scalars(select(Organization))}
        totals = {"vcpu": 500, "memory_gib": 5000, "disk_gib": 50000, "gpus": 40, "instances": 50, "eips": 50}
        for tenant, leaf in (("alpha", "research"), ("beta", "lab")):
            tid = self.tenant[tenant]
            for org in (None, "hq", leaf):  # top-down: the tenant, its root, the users' organisation
                quotas.set_totals(engine, self.admin, totals, tenant_id=tid,
                                  organization_id=orgs[tid, org] if org else None)

    def add_lab(self) -> None:
        engine = self.engine
        simulator.configure(self.state, CLOUD, api_key=KEY, zones=ZONES)
        self.account = resources.create_account(engine, self.admin, name="lab", provider_type="simulator",
                                                endpoint=f"sim://{CLOUD}", credentials={"api_key": KEY})
        resources.sync_account(engine, self.admin, self.account["id"])
        with engine.db.read() as s:
            self.pool = {p.scope: p.id for p in s.scalars(select(ResourcePool))}
        resources.update_pool(engine, self.admin, self.pool["a100-cheap"], unit_costs={"gpus:A100": "1.00"})
        resources.update_pool(engine, self.admin, self.pool["a100-dear"], unit_costs={"gpus:A100": "3.00"})
        self.add_plans()

    def add_plans(self) -> None:
        """A monthly plan for the small and the a100-1 specs."""
        with self.engine.db.write() as s:
            for code in ("small", "a100-1"):
                plans.create(s, {"code": f"plan-{code}", "name": code, "target_kind": "spec",
                                 "target": self.spec[code], "billing_mode": "on_demand", "unit": "month",
                                 "unit_price": "100", "valid_from": "2020-01-01T00:00:00+00:00"}, actor="admin")

    # -- an application up to its order ---------------------------------------------------------------

    def approved(self, items: list[tuple[str, int]], who: Principal | None = None) -> str:
        """A submitted application (quota reserved) marked approved; returns its id."""
        who = who or self.user
        with self.engine.db.read() as s:
            system = s.scalar(select(BusinessSystem.id).where(BusinessSystem.tenant_id == who.tenant_id))
        app = applications.create(self.engine, who, business_system_id=system, purpose="train", title="Training",
                                  items=[{"spec_id": self.spec[code], "quantity": n} for code, n in items])
        application_flow.submit(self.engine, who, app["id"])
        with self.engine.db.write() as s:
            s.get(Application, app["id"]).status = "approved"
        return app["id"]

    def order(self, application_id: str, choice: dict[str, Any] | None, tenant: str = "alpha") -> ProcessInstance:
        """Start ``order`` for the approved application with ``choice`` as its placement choice."""
        return self.engine.runtime.start("order", tenant_id=self.tenant[tenant], business_key=application_id,
                                         variables={"application_id": application_id, "placement_choice": choice})

    @staticmethod
    def choice(*assignments: tuple[str, str, int]) -> dict[str, Any]:
        return {"objective": "cost", "weights": None, "placed": sum(a[2] for a in assignments), "cost": "0",
                "performance": "0", "max_util": "0",
                "assignments": [{"request_id": r, "pool_id": p, "copies": n} for r, p, n in assignments]}

    # -- operations' work orders ------------------------------------------------------------------------

    def work_orders(self, instance_id: str, result: str, resource: dict[str, Any] | None = None) -> int:
        """Operations answer every open work order task of the instance with ``result`` (done or
        cannot_do) and the applicant accepts; returns how many were answered."""
        answered = 0
        for spec, who, data in (("deliver", self.operator, {"result": result, "notes": "by hand",
                                                            "resource": resource}),
                                ("evaluate", self.user, {"evaluation": "accept"})):
            for task in self.tasks(instance_id, spec):
                if spec == "deliver":
                    self.engine.inbox.claim(None, task.id, user=who.username, roles=list(who.roles))
                    answered += 1
                self.engine.inbox.complete(who.tenant_id, task.id, user=who.username, roles=list(who.roles),
                                           data=data)
        return answered

    def tasks(self, instance_id: str, spec: str) -> list[HumanTask]:
        with self.engine.db.read() as s:
            return list(s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                          HumanTask.task_spec == spec)))

    # -- reading ------------------------------------------------------------------------------------------

    def units(self, application_id: str) -> list[ProvisioningUnit]:
        with self.engine.db.read() as s:
            order = s.scalars(select(Order).where(Order.application_id == application_id)).one()
            return list(s.scalars(select(ProvisioningUnit).where(ProvisioningUnit.order_id == order.id)
                                  .order_by(ProvisioningUnit.order_item_id, ProvisioningUnit.copy_no)))

    def order_row(self, application_id: str) -> Order:
        with self.engine.db.read() as s:
            return s.scalars(select(Order).where(Order.application_id == application_id)).one()

    def instance(self, instance_id: str) -> tuple[str, dict[str, Any], list[Incident]]:
        with self.engine.db.read() as s:
            row = s.get(ProcessInstance, instance_id)
            data = self.engine.runtime.load(s, row).workflow.data
            incidents = list(s.scalars(select(Incident).where(Incident.instance_id == instance_id)))
            return row.status, data, incidents

    def wait(self, frozen: clock.FrozenClock, seconds: float) -> int:
        """Move the clock on and fire the timers that are due; returns how many fired."""
        frozen.advance(timedelta(seconds=seconds))
        return fire_due_timers(self.engine, "test")

    def sim_count(self) -> int:
        return simulator.count_resources(self.state, CLOUD)

    @staticmethod
    def dec(value: str) -> Decimal:
        return Decimal(value)


def make_world(url: str, tmp_path: Path, *, lab: bool = True) -> World:
    eng = Engine(Settings(var_dir=tmp_path, database_url=url, argon2_profile="test"))
    seed(eng, demo_password=PASSWORD, announce=None)
    return World(eng, lab=lab)



@pytest.fixture
def world(tmp_path: Path, frozen: clock.FrozenClock) -> Iterator[World]:
    w = make_world(f"sqlite:///{tmp_path / 'aicmp.db'}", tmp_path)
    yield w
    w.engine.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_world(request: pytest.FixtureRequest, tmp_path: Path, frozen: clock.FrozenClock) -> Iterator[World]:
    """The same world on the embedded default and on PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'aicmp.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_database_url")
    w = make_world(url, tmp_path)
    yield w
    w.engine.close()
