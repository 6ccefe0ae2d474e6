"""The ``billing_daily`` process, run by the engine: a timer each day, ``billing/rate`` and
``billing/close_day`` as service tasks through the billing port; and the port's scope."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import clock
from engine.domains.billing import flow
from engine.domains.billing.models import BillingDay
from engine.models import Incident, ProcessInstance
from engine.timers import drain_due_timers
from tasks.registry import REGISTRY
from tests.domains.billing.conftest import World, at
from tests.helpers import one_service_task

BPMN = Path(__file__).resolve().parents[3] / "bpmn"
TEST_PROCESS = one_service_task("sneaky_rate", "billing/rate", "rated", {"day": ("str", "'2026-03-01'")},
                                task_id="rate")


@pytest.fixture
def daily(any_engine, operators):
    for name in ("billing/rate", "billing/close_day", "billing/start", "billing/stop"):
        operators.register(REGISTRY.get(name))
    any_engine.registry.deploy({"billing_daily.bpmn": (BPMN / "billing_daily.bpmn").read_bytes()})
    return any_engine


@pytest.fixture
def now():
    fc = clock.FrozenClock(at("2026-03-02T09:00:00"))
    previous = clock.use(fc)
    yield fc
    clock.use(previous)


def closed_days(engine, tenant):
    with engine.db.read() as s:
        return [d.isoformat() for d in s.scalars(select(BillingDay.day).where(
            BillingDay.tenant_id == tenant, BillingDay.closed_at.is_not(None)).order_by(BillingDay.day))]


def test_the_daily_process_rates_and_closes_each_day_on_its_timer(daily, now):
    world = World(daily)
    world.plan(unit="day", unit_price="10", day_rule=None)
    world.start(resource_ref="vm-1", started_at=at("2026-03-01T00:00:00"))
    [instance_id] = flow.ensure_daily(daily, ["t-alpha"])
    assert flow.ensure_daily(daily, ["t-alpha"]) == []  # one running instance per tenant
    drain_due_timers(daily, "test")  # yesterday's run was due at 00:05 today
    assert closed_days(daily, "t-alpha") == ["2026-03-01"]
    assert [(ln.day.isoformat(), ln.amount) for ln in world.lines("t-alpha")] == [("2026-03-01", Decimal("10.00"))]
    drain_due_timers(daily, "test")
    assert closed_days(daily, "t-alpha") == ["2026-03-01"]  # the next run waits for 2026-03-03 00:05
    now.advance(timedelta(days=2))  # 2026-03-04 09:00: two runs due, caught up one loop at a time
    for _ in range(3):
        drain_due_timers(daily, "test")
    assert closed_days(daily, "t-alpha") == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert [str(ln.amount) for ln in world.lines("t-alpha")] == ["10.00", "10.00", "10.00"]
    with daily.db.read() as s:
        row = s.get(ProcessInstance, instance_id)
        assert (row.status, row.tenant_id) == ("running", "t-alpha")
        assert not s.scalars(select(Incident).where(Incident.instance_id == instance_id)).all()


def test_a_process_started_by_a_request_may_not_rate(daily, now):
    daily.registry.deploy({"sneaky.bpmn": TEST_PROCESS})
    instance = daily.runtime.start("sneaky_rate", tenant_id="t-beta")
    with daily.db.read() as s:
        row = s.get(ProcessInstance, instance.id)
        incidents = s.scalars(select(Incident).where(Incident.instance_id == instance.id)).all()
    assert row.status != "completed"
    assert incidents and "NOT_PERMITTED" in (incidents[0].error_code or "") + (incidents[0].message or "")
    assert closed_days(daily, "t-beta") == []


PROVISION = one_service_task("provision_test", "billing/start", "rated", {
    "resource_ref": ("str", "'vm-7'"), "started_at": ("str", "'2026-03-02T08:00:00+00:00'"),
    "spec_id": ("str", "spec_id")}, task_id="start_billing")


def test_a_provisioning_process_opens_a_rated_resource_and_its_tenant_gets_the_daily_rating(daily, now):
    world = World(daily)
    world.plan(unit="day", unit_price="10", day_rule=None)
    daily.registry.deploy({"provision.bpmn": PROVISION})
    daily.runtime.internal_keys.add("provision_test")  # as the provisioning domain will register its flows
    instance = daily.runtime.start("provision_test", tenant_id="t-beta", variables={"spec_id": world.spec})
    with daily.db.read() as s:
        assert s.get(ProcessInstance, instance.id).status == "completed"
        assert s.scalars(select(ProcessInstance.status).where(ProcessInstance.process_key == "billing_daily",
                                                              ProcessInstance.tenant_id == "t-beta")).all() == [
            "running"]
    now.advance(timedelta(days=1))
    drain_due_timers(daily, "test")
    assert [(ln.day.isoformat(), str(ln.amount)) for ln in world.lines("t-beta")] == [("2026-03-02", "10.00")]


def test_ensure_daily_ignores_tenants_that_do_not_exist(daily, now):
    assert flow.ensure_daily(daily, ["t-nobody", "", None]) == []
