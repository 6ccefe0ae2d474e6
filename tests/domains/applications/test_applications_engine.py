"""Applications through the real processes (bpmn/application, approval, order) on a real database.

The engine is seeded as the demo is (tenants alpha and beta, their organisations and users, the
product processes from bpmn/ and forms/), gets quotas and a small catalog, and then every step
goes through engine functions: no mocks of our own code, operators reach the database only
through their ports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import clock, site_messages
from engine.config import Settings
from engine.core import Engine
from engine.domains.applications import flow as application_flow
from engine.domains.applications import service as applications
from engine.domains.applications.models import Application
from engine.domains.cart import service as cart
from engine.domains.catalog import service as catalog
from engine.domains.orders.models import Order
from engine.errors import Conflict, NotFound, TooManyRequests
from engine.models import Organization, ProcessInstance, Quota, Role, SiteMessage, Tenant, User, UserRole
from engine.principal import Principal
from engine.tenancy import quotas
from engine.tenancy.access import PermissionDenied
from engine.timers import fire_due_timers
from seed import seed
from tasks import ports as task_ports
from tasks.notify import recipients
from tasks.quota import demand
from tasks.registry import OperatorError
from tests.helpers import T0

PASSWORD = "Demo-Passw0rd!"


def principal(engine: Engine, username: str) -> Principal:
    with engine.db.read() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
        roles = tuple(s.scalars(select(Role.code).join(UserRole, UserRole.role_id == Role.id)
                                .where(UserRole.user_id == user.id)))
    return Principal(user.id, user.username, user.tenant_id, user.organization_id, roles)


class World:
    """A seeded engine with quotas and a catalog, and shortcuts for the tests."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.db.read() as s:
            self.tenant = {t.code: t.id for t in s.scalars(select(Tenant))}
            self.org = {(o.tenant_id, o.code): o.id for o in s.scalars(select(Organization))}
        self.user = principal(engine, "alpha-user")
        self.approver = principal(engine, "alpha-approver")
        self.tenant_admin = principal(engine, "alpha-admin")
        self.operator = principal(engine, "operator")
        self.admin = principal(engine, "admin")
        self.beta_user = principal(engine, "beta-user")
        top = catalog.create_category(engine, self.admin, code="test-compute", name="Test compute")
        gpu = catalog.create_category(engine, self.admin, code="test-gpu", name="Test GPU servers", parent_id=top["id"])
        self.product = catalog.create_product(
            engine, self.admin, code="test-a100", name="Test A100 server", category_id=gpu["id"],
            specs=[{"code": "1x", "name": "1 x A100", "vcpu": 16, "memory_gib": "128", "disk_gib": "500",
                    "gpu_model": "A100", "gpu_count": 1, "instances": 1, "eips": 1},
                   {"code": "8x", "name": "8 x A100", "vcpu": 96, "memory_gib": "1024", "disk_gib": "2000",
                    "gpu_model": "A100", "gpu_count": 8, "instances": 1, "eips": 1}])
        self.spec = {sp["code"]: sp["id"] for sp in self.product["specs"]}

    def set_quota(self, tenant: str, levels: tuple[str | None, ...] = (), **totals: Any) -> None:
        """The same totals at ``levels`` (default: the tenant, its hq and hq's research (alpha) or
        lab (beta), top-down)."""
        tid = self.tenant[tenant]
        for org in levels or (None, "hq", "research" if tenant == "alpha" else "lab"):
            quotas.set_totals(self.engine, self.admin, totals, tenant_id=tid,
                              organization_id=self.org[tid, org] if org else None)

    def quota(self, tenant: str, org: str | None, dim: str) -> tuple[Decimal, Decimal]:
        """(in_process, used)."""
        tid = self.tenant[tenant]
        with self.engine.db.read() as s:
            row = s.scalars(select(Quota).where(Quota.tenant_id == tid, Quota.dimension == dim,
                                                Quota.organization_id.is_(None) if org is None
                                                else Quota.organization_id == self.org[tid, org])).one()
            return row.in_process, row.used

    def draft(self, who: Principal | None = None, spec: str = "1x", quantity: int = 2) -> dict[str, Any]:
        who = who or self.user
        with self.engine.db.read() as s:
            from engine.models import BusinessSystem
            system = s.scalar(select(BusinessSystem.id).where(BusinessSystem.tenant_id == who.tenant_id))
        return applications.create(self.engine, who, business_system_id=system, purpose="train a model",
                                   title="Training", items=[{"spec_id": self.spec[spec], "quantity": quantity}])

    def tasks(self, application_id: str) -> dict[str, dict[str, Any]]:
        return {t["task_spec"]: t for t in applications.get(self.engine, self.admin, application_id)["current_tasks"]}

    def work(self, who: Principal, application_id: str, spec: str, data: dict[str, Any]) -> None:
        task = self.tasks(application_id)[spec]
        self.engine.inbox.complete(self.tenant["alpha"], task["id"], user=who.username, data=data,
                                   roles=who.roles)

    def status(self, application_id: str) -> str:
        return applications.get(self.engine, self.admin, application_id)["status"]

    def messages(self, who: Principal) -> list[tuple[str, str]]:
        items, _total = site_messages.list_messages(self.engine, who, limit=200)
        return [(m.kind, m.title) for m in items]




def _world(url: str, tmp_path: Path) -> World:
    eng = Engine(Settings(var_dir=tmp_path, database_url=url, argon2_profile="test"))
    seed(eng, demo_password=PASSWORD, announce=None)
    world = World(eng)
    world.set_quota("alpha", vcpu=200, memory_gib=4096, disk_gib=10000, gpus=16, instances=10, eips=10)
    return world


@pytest.fixture
def world(tmp_path: Path, frozen: clock.FrozenClock) -> Iterator[World]:
    w = _world(f"sqlite:///{tmp_path / 'aicmp.db'}", tmp_path)
    yield w
    w.engine.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_world(request: pytest.FixtureRequest, tmp_path: Path, frozen: clock.FrozenClock) -> Iterator[World]:
    url = f"sqlite:///{tmp_path / 'aicmp.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_database_url")
    w = _world(url, tmp_path)
    yield w
    w.engine.close()


# -- operators: pure parts --------------------------------------------------------------------------

def test_demand_adds_up_dimensions_times_quantity() -> None:
    items = [{"quantity": 2, "vcpu": 16, "memory_gib": Decimal("128.5"), "disk_gib": 500, "gpu_count": 1,
              "instances": 1, "eips": 1},
             {"quantity": 1, "vcpu": 4, "memory_gib": 8, "disk_gib": 0, "gpu_count": 0, "instances": 3, "eips": 0}]
    assert demand(items) == {"vcpu": 36, "memory_gib": Decimal("265.0"), "disk_gib": 1000, "instances": 5,
                             "eips": 2, "gpus": 2}
    with pytest.raises(OperatorError) as exc:
        demand([{"quantity": 0, "vcpu": 1}])
    assert exc.value.code == "INVALID_ITEMS"


def test_notify_audience_names_applicant_users_and_roles() -> None:
    assert recipients(["applicant", "user:bob", "role:tenant_admin", "applicant"], "alice") == [
        "alice", "bob", "role:tenant_admin"]
    with pytest.raises(OperatorError):
        recipients(["everyone"], "alice")


def test_an_operator_outside_an_engine_transaction_has_no_ports() -> None:
    from tasks.quota import reserve

    with pytest.raises(task_ports.PortUnavailable):
        reserve(application_id="x")


# -- the flow ------------------------------------------------------------------------------------------

def test_happy_path_from_draft_to_order(any_world: World) -> None:
    w = any_world
    app = w.draft(quantity=2)
    assert app["status"] == "draft" and app["number"].startswith("AP")
    assert app["totals"]["gpus"] == 2 and app["totals"]["vcpu"] == 32

    app = application_flow.submit(w.engine, w.user, app["id"])
    assert app["status"] == "pending" and app["quota_state"] == "reserved"
    for org in (None, "hq", "research"):  # the organisation, every ancestor and the tenant
        assert w.quota("alpha", org, "gpus") == (Decimal(2), Decimal(0))
    tasks = w.tasks(app["id"])
    assert list(tasks) == ["org_approve"]
    assert tasks["org_approve"]["candidates"] == ["user:alpha-approver"]  # research's own approver
    assert ("task_assigned", f"New task: Approve (organisation) ({app['number']})") in w.messages(w.approver)

    w.work(w.approver, app["id"], "org_approve", {"decision": "approve", "comment": "fine"})
    assert w.tasks(app["id"])["platform_approve"]["candidates"] == ["role:platform_operator"]
    assert any(kind == "task_assigned" for kind, _t in w.messages(w.operator))
    with pytest.raises(Conflict):  # an approval was given: too late to withdraw
        application_flow.withdraw(w.engine, w.user, app["id"])

    w.work(w.operator, app["id"], "platform_approve", {"decision": "approve"})
    done = applications.get(w.engine, w.user, app["id"])
    assert done["status"] == "ordered" and done["quota_state"] == "committed" and done["approvals"] == 2
    assert done["order"]["number"].startswith("OR") and done["order"]["items"][0]["quantity"] == 2
    # no resource pool to place on: provisioning hands both copies to operations (delivery work orders)
    assert [t["task_spec"] for t in done["current_tasks"]] == ["deliver", "deliver"]
    assert done["instances"][0]["status"] == "running"
    assert done["order"]["status"] == "provisioning" and done["order"]["provisioning"]["waiting"] == 2
    decided = [(h["task_spec"], h["actor"]) for h in done["history"] if h["task_type"] == "UserTask"]
    assert decided == [("org_approve", "alpha-approver"), ("platform_approve", "operator")]
    for org in (None, "hq", "research"):
        assert w.quota("alpha", org, "gpus") == (Decimal(0), Decimal(2))
    kinds = [k for k, _t in w.messages(w.user)]
    assert "approved" in kinds


def test_quota_short_is_refused_and_nothing_is_kept(world: World) -> None:
    w = world
    w.set_quota("alpha", ("research",), gpus=3)
    app = w.draft(spec="1x", quantity=4)
    with pytest.raises(Conflict) as exc:
        application_flow.submit(w.engine, w.user, app["id"])
    assert exc.value.status == 409 and exc.value.code == "quota_short"
    error = exc.value.errors[0]
    assert error["dimension"] == "gpus" and error["level"] == "organization" and "research" in error["level_label"]
    assert w.status(app["id"]) == "draft"
    for org in (None, "hq", "research"):
        assert w.quota("alpha", org, "gpus") == (Decimal(0), Decimal(0))
    with w.engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.business_key == app["id"])) == 0
        assert s.scalar(select(func.count()).select_from(Application).where(
            Application.quota_state != "none")) == 0
    # within quota it goes through
    applications.update(w.engine, w.user, app["id"], items=[{"spec_id": w.spec["1x"], "quantity": 3}])
    assert application_flow.submit(w.engine, w.user, app["id"])["status"] == "pending"


def test_reject_edit_resubmit_approve(world: World) -> None:
    w = world
    app = w.draft(quantity=2)
    application_flow.submit(w.engine, w.user, app["id"])
    w.work(w.approver, app["id"], "org_approve", {"decision": "reject", "comment": "too many"})

    back = applications.get(w.engine, w.user, app["id"])
    assert back["status"] == "returned" and back["quota_state"] == "released"
    assert back["last_comment"] == "too many"
    assert w.quota("alpha", "research", "gpus") == (Decimal(0), Decimal(0))
    assert [t["candidates"] for t in back["current_tasks"]] == [["user:alpha-user"]]
    assert any(k == "rejected" and "too many" not in t for k, t in w.messages(w.user))
    with pytest.raises(Conflict):
        application_flow.submit(w.engine, w.user, app["id"])  # a rejected one is resubmitted, not submitted

    applications.update(w.engine, w.user, app["id"], purpose="a smaller run",
                        items=[{"spec_id": w.spec["1x"], "quantity": 1}])
    again = application_flow.resubmit(w.engine, w.user, app["id"])
    assert again["status"] == "pending" and again["submissions"] == 2 and again["approvals"] == 0
    assert w.quota("alpha", "research", "gpus") == (Decimal(1), Decimal(0))

    w.work(w.approver, app["id"], "org_approve", {"decision": "approve"})
    w.work(w.operator, app["id"], "platform_approve", {"decision": "approve"})
    done = applications.get(w.engine, w.user, app["id"])
    assert done["status"] == "ordered" and done["order"]["items"][0]["quantity"] == 1
    assert w.quota("alpha", "research", "gpus") == (Decimal(0), Decimal(1))


def test_resubmit_is_refused_when_the_quota_no_longer_fits(world: World) -> None:
    w = world
    app = w.draft(quantity=2)
    application_flow.submit(w.engine, w.user, app["id"])
    w.work(w.approver, app["id"], "org_approve", {"decision": "reject"})
    applications.update(w.engine, w.user, app["id"], items=[{"spec_id": w.spec["8x"], "quantity": 3}])
    with pytest.raises(Conflict) as exc:
        application_flow.resubmit(w.engine, w.user, app["id"])
    assert exc.value.code == "quota_short" and exc.value.errors[0]["dimension"] == "vcpu"  # 288 > 200
    back = applications.get(w.engine, w.user, app["id"])
    assert back["status"] == "returned" and back["quota_state"] == "released"
    assert [t["task_spec"] for t in back["current_tasks"]] == ["revise"]  # still waiting for an edit


def test_withdraw_before_the_first_approval_returns_to_draft(world: World) -> None:
    w = world
    app = w.draft()
    application_flow.submit(w.engine, w.user, app["id"])
    with pytest.raises(Exception) as exc:  # only the applicant withdraws
        application_flow.withdraw(w.engine, w.approver, app["id"])
    assert getattr(exc.value, "status", None) == 403

    back = application_flow.withdraw(w.engine, w.user, app["id"])
    assert back["status"] == "draft" and back["quota_state"] == "released" and back["current_tasks"] == []
    assert back["instances"][0]["status"] == "completed"
    assert w.quota("alpha", None, "gpus") == (Decimal(0), Decimal(0))
    # a withdrawn draft is submitted again as a new instance
    again = application_flow.submit(w.engine, w.user, app["id"])
    assert again["status"] == "pending" and len(again["instances"]) == 2


def test_cancel_a_rejected_application(world: World) -> None:
    w = world
    app = w.draft()
    application_flow.submit(w.engine, w.user, app["id"])
    w.work(w.approver, app["id"], "org_approve", {"decision": "reject"})
    done = application_flow.cancel(w.engine, w.user, app["id"])
    assert done["status"] == "cancelled" and done["instances"][0]["status"] == "completed"
    with pytest.raises(Conflict):
        applications.update(w.engine, w.user, app["id"], purpose="again")


def test_a_tenant_admin_cancels_a_pending_application_after_an_approval(world: World) -> None:
    w = world
    app = w.draft()
    application_flow.submit(w.engine, w.user, app["id"])
    w.work(w.approver, app["id"], "org_approve", {"decision": "approve"})
    with pytest.raises(Conflict):
        application_flow.cancel(w.engine, w.user, app["id"])
    done = application_flow.cancel(w.engine, w.tenant_admin, app["id"])
    assert done["status"] == "cancelled" and done["quota_state"] == "released"
    assert w.quota("alpha", "research", "gpus") == (Decimal(0), Decimal(0))


def test_an_approval_not_given_in_time_escalates_to_the_tenant_admin(world: World,
                                                                     frozen: clock.FrozenClock) -> None:
    w = world
    app = w.draft()
    application_flow.submit(w.engine, w.user, app["id"])
    assert w.tasks(app["id"])["org_approve"]["due_at"] == T0 + timedelta(hours=24)
    frozen.advance(timedelta(hours=23))
    assert fire_due_timers(w.engine, "test") == 0
    frozen.advance(timedelta(hours=2))
    assert fire_due_timers(w.engine, "test") == 1

    tasks = w.tasks(app["id"])
    assert list(tasks) == ["admin_approve"] and tasks["admin_approve"]["candidates"] == ["role:tenant_admin"]
    assert any(k == "escalated" for k, _t in w.messages(w.tenant_admin))
    assert any(k == "escalated" for k, _t in w.messages(w.user))
    assert any(k == "task_assigned" for k, _t in w.messages(w.tenant_admin))
    w.work(w.tenant_admin, app["id"], "admin_approve", {"decision": "approve"})
    w.work(w.operator, app["id"], "platform_approve", {"decision": "approve"})
    assert w.status(app["id"]) == "ordered"


def test_approval_timeout_is_configurable(world: World, frozen: clock.FrozenClock,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.engine, "settings", dataclasses.replace(world.engine.settings, approval_timeout="PT2H"))
    app = world.draft()
    application_flow.submit(world.engine, world.user, app["id"])
    assert world.tasks(app["id"])["org_approve"]["due_at"] == T0 + timedelta(hours=2)


TENANT_APPROVAL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_alpha_approval" targetNamespace="https://alpha.example/bpmn">
  <bpmn:process id="approval" name="Alpha: the tenant admin alone approves" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_admin" name="tenant_admin"><bpmn:flowNodeRef>alpha_approve</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="alpha_approve" name="Alpha admin approves">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="application-approval-schema.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:serviceTask id="record" name="Record">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="applications/decision" resultVariable="last_decision">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="application_id" type="str" value="application_id" />
            <spiffworkflow:parameter id="step" type="str" value="'alpha'" />
            <spiffworkflow:parameter id="decision" type="str" value="decision" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="alpha_approve" />
    <bpmn:sequenceFlow id="f2" sourceRef="alpha_approve" targetRef="record" />
    <bpmn:sequenceFlow id="f3" sourceRef="record" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_tenants_own_approval_variant_is_used_for_that_tenant_only(world: World) -> None:
    w = world
    schema = (Path(__file__).resolve().parents[3] / "forms" / "application-approval-schema.json").read_bytes()
    w.engine.registry.deploy({"alpha-approval.bpmn": TENANT_APPROVAL.encode(),
                              "application-approval-schema.json": schema},
                             tenant_id=w.tenant["alpha"], actor="alpha-admin")
    w.set_quota("beta", vcpu=100, memory_gib=1000, disk_gib=1000, gpus=4, instances=4, eips=4)

    alpha = application_flow.submit(w.engine, w.user, w.draft()["id"])
    assert [t["task_spec"] for t in alpha["current_tasks"]] == ["alpha_approve"]
    beta = application_flow.submit(w.engine, w.beta_user, w.draft(w.beta_user)["id"])
    assert [t["task_spec"] for t in beta["current_tasks"]] == ["org_approve"]

    w.work(w.tenant_admin, alpha["id"], "alpha_approve", {"decision": "approve"})
    assert w.status(alpha["id"]) == "ordered"


# -- isolation, cart, urge ----------------------------------------------------------------------------

def test_another_tenants_application_is_not_found(world: World) -> None:
    w = world
    app = w.draft()
    with pytest.raises(NotFound):
        applications.get(w.engine, w.beta_user, app["id"])
    with pytest.raises(NotFound):
        application_flow.submit(w.engine, w.beta_user, app["id"])
    mine, total = applications.list_applications(w.engine, w.beta_user, applications.Filters())
    assert (mine, total) == ([], 0)
    seen, total = applications.list_applications(w.engine, w.approver, applications.Filters(number=app["number"]))
    assert total == 1 and seen[0]["id"] == app["id"]  # the approver's scope: research and below


def test_an_application_from_the_cart_empties_those_lines(world: World) -> None:
    w = world
    cart.add_item(w.engine, w.user, spec_id=w.spec["1x"], quantity=1)
    cart.add_item(w.engine, w.user, spec_id=w.spec["1x"], quantity=2)
    line = cart.add_item(w.engine, w.user, spec_id=w.spec["8x"], quantity=1)["items"]
    assert [(i["spec"]["code"], i["quantity"]) for i in line] == [("1x", 3), ("8x", 1)]
    with w.engine.db.read() as s:
        from engine.models import BusinessSystem
        system = s.scalar(select(BusinessSystem.id).where(BusinessSystem.tenant_id == w.tenant["alpha"]))
    app = applications.create(w.engine, w.user, business_system_id=system, purpose="from the cart",
                              cart_item_ids=[line[0]["id"]])
    assert [(i["spec_name"], i["quantity"]) for i in app["items"]] == [("1 x A100", 3)]
    assert [i["spec"]["code"] for i in cart.get_cart(w.engine, w.user)["items"]] == ["8x"]


def test_urge_tells_the_approvers_once_in_a_while(world: World, frozen: clock.FrozenClock) -> None:
    w = world
    app = application_flow.submit(w.engine, w.user, w.draft()["id"])
    assert application_flow.urge(w.engine, w.user, app["id"], comment="please") == 1
    assert ("urged", f"Reminder: application {app['number']}") in w.messages(w.approver)
    with pytest.raises(TooManyRequests):
        application_flow.urge(w.engine, w.user, app["id"])
    frozen.advance(timedelta(minutes=61))
    assert application_flow.urge(w.engine, w.user, app["id"]) == 1
    with pytest.raises(PermissionDenied):  # the applicant urges, nobody else
        application_flow.urge(w.engine, w.tenant_admin, app["id"])


def test_site_messages_read_and_delete(world: World) -> None:
    w = world
    application_flow.submit(w.engine, w.user, w.draft()["id"])
    assert site_messages.unread_count(w.engine, w.approver) == 1
    items, _ = site_messages.list_messages(w.engine, w.approver)
    site_messages.mark_read(w.engine, w.approver, items[0].id)
    assert site_messages.unread_count(w.engine, w.approver) == 0
    with pytest.raises(NotFound):  # someone else's message
        site_messages.mark_read(w.engine, w.user, items[0].id)
    site_messages.delete_message(w.engine, w.approver, items[0].id)
    with w.engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(SiteMessage).where(
            SiteMessage.user_id == w.approver.user_id)) == 0
        assert s.scalar(select(func.count()).select_from(Order)) == 0


def test_cancelling_the_process_outright_releases_the_quota(world: World) -> None:
    w = world
    app = application_flow.submit(w.engine, w.user, w.draft()["id"])
    w.engine.runtime.cancel(app["instances"][0]["id"], actor="alpha-admin", tenant_id=w.tenant["alpha"])
    done = applications.get(w.engine, w.user, app["id"])
    assert done["status"] == "cancelled" and done["quota_state"] == "released"
    assert w.quota("alpha", "research", "gpus") == (Decimal(0), Decimal(0))


def test_two_concurrent_submissions_of_one_draft_reserve_once(any_world: World) -> None:
    import threading

    w = any_world
    app = w.draft(quantity=1)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def submit() -> None:
        barrier.wait()
        try:
            application_flow.submit(w.engine, w.user, app["id"])
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["conflict", "ok"]
    assert w.quota("alpha", "research", "gpus") == (Decimal(1), Decimal(0))
    with w.engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.business_key == app["id"])) == 1


def test_the_product_processes_pass_check_and_simulate(tmp_path: Path) -> None:
    """What ``aicmp bpmn check`` and ``aicmp bpmn simulate`` run, on bpmn/ with its forms beside it."""
    import shutil

    from engine.designer import check, simulate_file

    root = Path(__file__).resolve().parents[3]
    files = ("application.bpmn", "approval.bpmn", "order.bpmn", "provisioning.bpmn", "work_order.bpmn")
    for name in files:
        shutil.copy(root / "bpmn" / name, tmp_path / name)
    for form in [*(root / "forms").glob("application-*.json"), *(root / "forms").glob("placement-*.json"),
                 *(root / "forms").glob("work-order-*.json")]:
        shutil.copy(form, tmp_path / form.name)
    names = ["applications/approvers", "applications/decision", "applications/mark", "billing/price_order",
             "notify/application", "orders/create", "placement/confirm", "placement/pick", "placement/propose",
             "quota/commit", "quota/release", "quota/reserve", "billing/start", "connector/create", "connector/get",
             *(f"provisioning/{verb}" for verb in ("plan", "attempt", "running", "failed", "replace", "finish",
                                                   "work_order_request")),
             "work_orders/open", "work_orders/update", "work_orders/escalate"]
    for name in files:
        report = check(tmp_path / name, max_bytes=1 << 20, known_operators=names)
        assert report.ok, report.errors
        assert not report.validation.warnings, report.validation.warnings
    _report, ordered = simulate_file(tmp_path / "application.bpmn", max_bytes=1 << 20)
    assert ordered is not None and ordered.completed and ordered.path[-1] == "Ordered"
    _report, cancelled = simulate_file(tmp_path / "application.bpmn", max_bytes=1 << 20,
                                       task_data={"org_approve": {"decision": "reject"},
                                                  "revise": {"action": "cancel"}})
    assert cancelled is not None and cancelled.completed and cancelled.path[-1] == "Cancelled"
    assert "Edit and resubmit, or cancel" in cancelled.path
