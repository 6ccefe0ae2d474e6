"""A seeded engine with one running resource of tenant alpha, made as provisioning makes one.

``ResourceWorld(engine)``: the demo seed (tenants, users, the product's processes); a platform
simulator account ``lab``; a VM created at the simulator, imported by a sync and assigned by staff
to alpha and its business system; the order line it came from (application, order, order item,
provisioning unit, with that line's quota used); its rated resource on a price plan, started two
days before the clock. Shared by tests/domains/resource_actions and tests/api/resources.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from connectors.base import ResourceSpec, Status
from engine import clock
from engine.core import Engine
from engine.domains.applications.models import Application
from engine.domains.billing import plans
from engine.domains.billing import resources as rated
from engine.domains.billing.models import BillLine
from engine.domains.catalog.models import Product, ProductCategory, ProductSpec
from engine.domains.orders.models import Order, OrderItem
from engine.domains.provisioning.models import ProvisioningUnit
from engine.domains.resources import accounts, service
from engine.domains.resources.models import CloudAccount, CloudResource
from engine.models import BusinessSystem, HumanTask, Organization, Quota, Role, Tenant, User, UserRole
from engine.principal import Principal
from engine.tenancy import quotas

PASSWORD = "Demo-Passw0rd!"
KEY = "termination-api-key-0123456789"
WORK_ORDER_STANDIN = Path(__file__).parent / "work_order_standin.bpmn"
REPO = Path(__file__).resolve().parents[3]


def principal(engine: Engine, username: str) -> Principal:
    with engine.db.read() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
        roles = tuple(s.scalars(select(Role.code).join(UserRole, UserRole.role_id == Role.id)
                                .where(UserRole.user_id == user.id)))
    return Principal(user.id, user.username, user.tenant_id, user.organization_id, roles)


class ResourceWorld:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        if not (REPO / "bpmn" / "work_order.bpmn").exists():  # until the work orders domain ships it
            engine.registry.deploy({"work_order.bpmn": WORK_ORDER_STANDIN.read_bytes()})
        with engine.db.read() as s:
            self.tenant = {t.code: t.id for t in s.scalars(select(Tenant))}
        self.admin = principal(engine, "admin")
        self.operator = principal(engine, "operator")
        self.alpha_admin = principal(engine, "alpha-admin")
        self.alpha_approver = principal(engine, "alpha-approver")
        self.alpha_user = principal(engine, "alpha-user")  # requests: alpha-approver approves
        self.beta_admin = principal(engine, "beta-admin")
        self.alpha = self.tenant["alpha"]
        self.account = service.create_account(engine, self.admin, name="lab", provider_type="simulator",
                                              endpoint="sim://lab", credentials={"api_key": KEY})["id"]
        self.spec_id, self.product_id = self._catalog()
        self.resource_id, self.provider_id = self._resource()
        self.order_id, self.item_id, self.unit_id = self._order()
        self.rated_id = self._rated()

    # -- setup -----------------------------------------------------------------------------------

    def connector(self) -> Any:
        with self.engine.db.read() as s:
            account = s.get(CloudAccount, self.account)
            return accounts.connect(accounts.connection(self.engine, account))

    def _catalog(self) -> tuple[str, str]:
        with self.engine.db.write() as s:
            cat = ProductCategory(code="term-vm", name="VMs")
            s.add(cat)
            s.flush()
            product = Product(code="term-vm", name="Test VM", category_id=cat.id)
            s.add(product)
            s.flush()
            spec = ProductSpec(product_id=product.id, code="2c4g", name="2 vCPU 4 GiB", vcpu=2,
                               memory_gib=Decimal(4), disk_gib=Decimal(40), instances=1)
            s.add(spec)
            s.flush()
            return spec.id, product.id

    def _resource(self) -> tuple[str, str]:
        with self.connector() as c:
            made = c.create(ResourceSpec(name="vm-alpha-1", vcpu=2, memory_gib=Decimal(4)), "term-test-1")
        service.sync_account(self.engine, self.admin, self.account)
        with self.engine.db.read() as s:
            row = s.scalars(select(CloudResource).where(CloudResource.provider_id == made.provider_id)).one()
            system = s.scalar(select(BusinessSystem.id).where(BusinessSystem.tenant_id == self.alpha,
                                                              BusinessSystem.code == "training"))
        service.assign(self.engine, self.admin, row.id, tenant_id=self.alpha, business_system_id=system)
        return row.id, made.provider_id

    def _order(self) -> tuple[str, str, str]:
        user = self.alpha_user  # the applicant: its order, its organisation's quota
        with self.engine.db.write() as s:
            system = self.resource().business_system_id
            app = Application(tenant_id=self.alpha, number="APP-T-1", title="VMs", applicant_id=user.user_id,
                              applicant=user.username, organization_id=user.organization_id,
                              business_system_id=system, status="ordered", quota_state="committed")
            s.add(app)
            s.flush()
            order = Order(tenant_id=self.alpha, number="ORD-T-1", application_id=app.id,
                          organization_id=user.organization_id, business_system_id=system,
                          applicant=user.username, status="running")
            s.add(order)
            s.flush()
            item = OrderItem(order_id=order.id, tenant_id=self.alpha, position=0, product_id=self.product_id,
                             spec_id=self.spec_id, product_name="Test VM", spec_name="2 vCPU 4 GiB", quantity=1,
                             vcpu=2, memory_gib=Decimal(4), disk_gib=Decimal(40), instances=1)
            s.add(item)
            s.flush()
            unit = ProvisioningUnit(tenant_id=self.alpha, order_id=order.id, order_item_id=item.id, copy_no=1,
                                    spec_id=self.spec_id, account_id=self.account, client_token="term-test-1",
                                    status="running", resource_id=self.resource_id, attempts=1)
            s.add(unit)
            s.flush()
            org = user.organization_id
        totals = {"vcpu": 100, "memory_gib": 400, "disk_gib": 4000, "instances": 10}
        with self.engine.db.read() as s:
            path = s.get(Organization, org).path
        for level in (None, *[i for i in path.split("/") if i]):
            quotas.set_totals(self.engine, self.admin, totals, tenant_id=self.alpha, organization_id=level)
        with self.engine.db.write() as s:  # what the order's quota/commit left: one copy used
            amounts = {"vcpu": 2, "memory_gib": 4, "disk_gib": 40, "instances": 1}
            quotas.reserve(s, self.alpha, org, amounts)
            quotas.commit_reserved(s, self.alpha, org, amounts)
        return order.id, item.id, unit.id

    def _rated(self) -> str:
        now = clock.now()
        with self.engine.db.write() as s:
            plans.create(s, {"code": "term-vm-hourly", "name": "VM by the hour", "target_kind": "spec",
                             "target": self.spec_id, "billing_mode": "on_demand", "unit": "hour",
                             "unit_price": "1.50", "valid_from": "2020-01-01T00:00:00+00:00"}, actor="admin")
            row, _created = rated.start(s, self.alpha, resource_ref=self.resource_id, spec_id=self.spec_id,
                                        started_at=now - timedelta(days=2))
            return row.id

    # -- reading ---------------------------------------------------------------------------------

    def used(self, dimension: str = "vcpu") -> Decimal:
        with self.engine.db.read() as s:
            return s.scalars(select(Quota.used).where(Quota.tenant_id == self.alpha, Quota.dimension == dimension,
                                                      Quota.organization_id.is_(None))).one()

    def provider_status(self) -> str:
        with self.connector() as c:
            return str(c.get(self.provider_id).status)

    def final_lines(self) -> list[BillLine]:
        with self.engine.db.read() as s:
            return list(s.scalars(select(BillLine).where(BillLine.tenant_id == self.alpha,
                                                         BillLine.resource_id == self.resource_id,
                                                         BillLine.day == clock.now().date())))

    def resource(self) -> CloudResource:
        with self.engine.db.read() as s:
            return s.get(CloudResource, self.resource_id)

    def unit_status(self) -> str:
        with self.engine.db.read() as s:
            return s.get(ProvisioningUnit, self.unit_id).status

    def tasks(self, instance_id: str) -> dict[str, HumanTask]:
        with self.engine.db.read() as s:
            return {t.task_spec: t for t in s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id))}

    def work(self, who: Principal, instance_id: str, spec: str, data: dict[str, Any]) -> None:
        task = self.tasks(instance_id)[spec]
        self.engine.inbox.complete(self.alpha, task.id, user=who.username, data=data, roles=who.roles)

    def approve(self, instance_id: str) -> None:
        """The organisation's approver, then the platform operator."""
        self.work(self.alpha_approver, instance_id, "org_approve", {"decision": "approve"})
        self.work(self.operator, instance_id, "platform_approve", {"decision": "approve"})


DELETED = str(Status.DELETED)
