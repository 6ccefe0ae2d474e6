"""A line bought for a term ends by timer: its unit gets ``expires_at`` when it runs (calendar months,
clamped to the month's end), ``subscription_expiry`` waits for it and then terminates the resource
through the real ``termination`` without approval (deleted at the simulator, billing stopped with a
final line, quota given back, unit terminated, the applicant told). A unit terminated before, or a
termination already open, leaves the expiry nothing to do; a line without a term never expires."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine import clock
from engine.domains.applications import flow as application_flow
from engine.domains.applications import service as applications
from engine.domains.applications.models import Application
from engine.domains.billing.models import BillLine, RatedResource
from engine.domains.provisioning import expiry
from engine.domains.provisioning.models import ProvisioningUnit
from engine.domains.resource_actions import service as actions
from engine.domains.resource_actions.models import ResourceRequest
from engine.domains.resources import accounts
from engine.domains.resources.models import CloudAccount, CloudResource
from engine.errors import InvalidInput
from engine.models import AuditEntry, BusinessSystem, Incident, ProcessInstance, Quota, SiteMessage
from engine.periodic import periodic_work
from engine.timers import fire_due_timers
from tests.domains.provisioning.conftest import World, make_world

JAN31 = datetime(2027, 1, 31, 10, 0, tzinfo=UTC)
FEB28 = datetime(2027, 2, 28, 10, 0, tzinfo=UTC)  # one calendar month after 31 January, clamped


@pytest.fixture
def w(tmp_path: Path, frozen: clock.FrozenClock) -> Iterator[World]:
    frozen.set(JAN31)
    world = make_world(f"sqlite:///{tmp_path / 'aicmp.db'}", tmp_path)
    yield world
    world.engine.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_w(request: pytest.FixtureRequest, tmp_path: Path, frozen: clock.FrozenClock) -> Iterator[World]:
    """``w`` on the embedded default and on PostgreSQL (row locks, the migrated schema)."""
    frozen.set(JAN31)
    url = f"sqlite:///{tmp_path / 'aicmp.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_database_url")
    world = make_world(url, tmp_path)
    yield world
    world.engine.close()


def provisioned(w: World, term_months: int | None, quantity: int = 1) -> str:
    """An application for ``quantity`` small VMs bought for ``term_months``, approved and provisioned
    on the simulator's CPU pool; returns the application id."""
    with w.engine.db.read() as s:
        system = s.scalar(select(BusinessSystem.id).where(BusinessSystem.tenant_id == w.tenant["alpha"]))
    app = applications.create(w.engine, w.user, business_system_id=system, purpose="train", title="Term",
                              items=[{"spec_id": w.spec["small"], "quantity": quantity, "term_months": term_months}])
    assert [i["term_months"] for i in app["items"]] == [term_months]
    application_flow.submit(w.engine, w.user, app["id"])
    with w.engine.db.write() as s:
        s.get(Application, app["id"]).status = "approved"
    started = w.order(app["id"], w.choice(("item1", w.pool["cpu"], quantity)))
    status, data, incidents = w.instance(started.id)
    assert (status, incidents) == ("completed", []), [(i.error_code, i.message) for i in incidents]
    return app["id"]


def expiries(w: World) -> list[ProcessInstance]:
    with w.engine.db.read() as s:
        return list(s.scalars(select(ProcessInstance).where(ProcessInstance.process_key == expiry.PROCESS_KEY)
                              .order_by(ProcessInstance.created_at, ProcessInstance.id)))


def until(w: World, frozen: clock.FrozenClock, when: datetime) -> None:
    frozen.set(when)
    fire_due_timers(w.engine, "test")


def variables(w: World, instance_id: str) -> dict[str, Any]:
    """The instance's variables: the workflow's once it ended, else the waiting task's."""
    with w.engine.db.read() as s:
        wf = w.engine.runtime.load(s, s.get(ProcessInstance, instance_id)).workflow
        return dict(wf.data) if wf.is_completed() else dict(wf.get_tasks(state=TaskState.WAITING)[0].data)


def at_provider(w: World, resource_id: str) -> str:
    """The resource's status at the simulator, asked through its connector."""
    with w.engine.db.read() as s:
        row = s.get(CloudResource, resource_id)
        account = s.get(CloudAccount, row.account_id)
        connection = accounts.connection(w.engine, account)
    with accounts.connect(connection) as c:
        return str(c.get(row.provider_id).status)


def used_vcpu(w: World) -> int:
    with w.engine.db.read() as s:
        return s.scalar(select(Quota.used).where(Quota.tenant_id == w.tenant["alpha"], Quota.dimension == "vcpu",
                                                 Quota.organization_id.is_(None)))


def test_a_term_ends_by_timer_and_terminates_the_resource_without_approval(any_w: World, frozen) -> None:
    w = any_w
    app_id = provisioned(w, 1)
    order = applications.get(w.engine, w.user, app_id)["order"]
    assert [i["term_months"] for i in order["items"]] == [1]  # copied from the application line
    [unit] = w.units(app_id)
    assert unit.status == "running" and unit.expires_at == FEB28
    assert order["items"][0]["provisioning"]["units"][0]["expires_at"] == FEB28
    [instance] = expiries(w)
    assert instance.status == "running" and instance.tenant_id == w.tenant["alpha"]
    assert unit.expiry_key == instance.business_key  # claimed in the start's transaction
    assert expiry.sweep(w.engine, older_than_s=0) == []  # it has its expiry: nothing to start
    used = used_vcpu(w)
    assert used > 0 and at_provider(w, unit.resource_id) == "running"

    until(w, frozen, FEB28 - timedelta(minutes=1))  # not yet
    assert w.units(app_id)[0].status == "running" and at_provider(w, unit.resource_id) == "running"
    assert expiries(w)[0].status == "running"

    until(w, frozen, FEB28 + timedelta(minutes=1))
    [unit] = w.units(app_id)
    assert unit.status == "terminated"
    assert expiries(w)[0].status == "completed"
    with w.engine.db.read() as s:
        [request] = s.scalars(select(ResourceRequest).where(ResourceRequest.resource_id == unit.resource_id)).all()
        assert (request.id, request.kind, request.status) == (instance.business_key, "terminate", "done")
        assert request.params == {"reason": "expired"} and request.requested_by == "alpha-user"
        assert request.instance_id == instance.id and "approvals" not in (request.result or {})
        assert s.get(CloudResource, unit.resource_id).status == "deleted"
        rated = s.scalars(select(RatedResource).where(RatedResource.resource_ref == unit.resource_id)).one()
        assert rated.stopped_at is not None
        final = s.scalars(select(BillLine).where(BillLine.resource_id == unit.resource_id,
                                                 BillLine.day == FEB28.date())).all()
        told = s.scalars(select(SiteMessage).where(SiteMessage.kind == "resource.done")).all()
    assert len(final) == 1 and final[0].amount > 0
    assert request.result["final_line"]["amount"] == str(final[0].amount)
    assert at_provider(w, unit.resource_id) == "deleted"
    assert used_vcpu(w) == used - 2  # one small VM's vCPUs given back
    assert len(told) == 1 and "term ended" in told[0].body


def test_a_unit_terminated_by_hand_before_its_term_ends_is_not_terminated_twice(w: World, frozen) -> None:
    app_id = provisioned(w, 2)
    [unit] = w.units(app_id)
    assert unit.expires_at == datetime(2027, 3, 31, 10, 0, tzinfo=UTC)
    by_hand = actions.request_action(w.engine, w.user, unit.resource_id, "terminate")
    for spec, who in (("org_approve", "alpha-approver"), ("platform_approve", "operator")):
        [task] = w.tasks(by_hand["instance_id"], spec)
        user = {"alpha-approver": None, "operator": w.operator}[who]
        roles = list(user.roles) if user else ["approver"]
        w.engine.inbox.complete(w.tenant["alpha"], task.id, user=who, roles=roles, data={"decision": "approve"})
    assert actions.get_request(w.engine, w.user, by_hand["id"])["status"] == "done"
    assert w.units(app_id)[0].status == "terminated"
    used = used_vcpu(w)

    until(w, frozen, unit.expires_at + timedelta(hours=1))
    [instance] = expiries(w)
    assert instance.status == "completed"
    assert variables(w, instance.id)["expiry"]["terminate"] is False
    with w.engine.db.read() as s:
        assert s.scalars(select(ResourceRequest.id).where(ResourceRequest.resource_id == unit.resource_id)).all() \
            == [by_hand["id"]]
        assert s.scalars(select(Incident)).all() == []
    assert used_vcpu(w) == used  # nothing given back twice


def test_an_open_termination_at_expiry_is_left_to_finish(w: World, frozen) -> None:
    app_id = provisioned(w, 1)
    [unit] = w.units(app_id)
    pending = actions.request_action(w.engine, w.user, unit.resource_id, "terminate")  # awaiting approval
    until(w, frozen, FEB28 + timedelta(minutes=1))
    [instance] = expiries(w)
    assert instance.status == "completed"
    assert variables(w, instance.id)["expiry"] == {"terminate": False, "unit_id": unit.id,
                                                   "resource_id": unit.resource_id, "reason": "termination_open",
                                                   "request_id": pending["id"]}
    assert actions.get_request(w.engine, w.user, pending["id"])["status"] == "pending"
    assert w.units(app_id)[0].status == "running" and at_provider(w, unit.resource_id) == "running"


def test_a_line_without_a_term_never_expires(w: World, frozen) -> None:
    app_id = provisioned(w, None, quantity=2)
    assert [u.expires_at for u in w.units(app_id)] == [None, None]
    assert expiries(w) == []
    until(w, frozen, JAN31 + timedelta(days=400))
    units = w.units(app_id)
    assert [u.status for u in units] == ["running", "running"]
    assert [at_provider(w, u.resource_id) for u in units] == ["running", "running"]


def test_every_copy_of_a_line_gets_its_own_expiry(w: World) -> None:
    app_id = provisioned(w, 12, quantity=2)
    assert [u.expires_at for u in w.units(app_id)] == [datetime(2028, 1, 31, 10, 0, tzinfo=UTC)] * 2
    found = expiries(w)
    assert len(found) == 2 and len({i.business_key for i in found}) == 2
    assert sorted(variables(w, i.id)["unit_id"] for i in found) == sorted(u.id for u in w.units(app_id))


def test_an_expiry_of_another_tenant_reaches_no_unit(w: World, frozen) -> None:
    """A ``subscription_expiry`` instance of tenant beta given alpha's unit: unknown, nothing opened."""
    app_id = provisioned(w, 1)
    [unit] = w.units(app_id)
    hostile = w.engine.runtime.start(expiry.PROCESS_KEY, tenant_id=w.tenant["beta"], business_key="x" * 36,
                                     variables={"unit_id": unit.id, "request_id": "x" * 36,
                                                "expires_at": JAN31.isoformat()})
    until(w, frozen, JAN31 + timedelta(minutes=1))
    status, _data, incidents = w.instance(hostile.id)
    assert status == "incident" and [i.error_code for i in incidents] == ["UNKNOWN_UNIT"]
    with w.engine.db.read() as s:
        assert s.scalars(select(ResourceRequest)).all() == []
        assert s.get(ProvisioningUnit, unit.id).status == "running"


@pytest.mark.parametrize("bad", [0, 61, "x", True, 1.5])
def test_a_term_out_of_range_is_refused_naming_the_field(w: World, bad: Any) -> None:
    with w.engine.db.read() as s:
        system = s.scalar(select(BusinessSystem.id).where(BusinessSystem.tenant_id == w.tenant["alpha"]))
    with pytest.raises(InvalidInput) as caught:
        applications.create(w.engine, w.user, business_system_id=system, purpose="train", title="Term",
                            items=[{"spec_id": w.spec["small"], "quantity": 1},
                                   {"spec_id": w.spec["small"], "quantity": 1, "term_months": bad}])
    assert caught.value.errors[0]["field"] == "items[1].term_months"


def test_months_are_calendar_months_clamped_to_the_months_end() -> None:
    at = datetime(2027, 1, 31, 23, 30, tzinfo=UTC)
    assert expiry.add_months(at, 1) == datetime(2027, 2, 28, 23, 30, tzinfo=UTC)
    assert expiry.add_months(at, 13) == datetime(2028, 2, 29, 23, 30, tzinfo=UTC)  # a leap year
    assert expiry.add_months(at, 2) == datetime(2027, 3, 31, 23, 30, tzinfo=UTC)
    assert expiry.add_months(datetime(2027, 11, 30, tzinfo=UTC), 3) == datetime(2028, 2, 29, tzinfo=UTC)
    assert expiry.add_months(datetime(2027, 12, 15, tzinfo=UTC), 60) == datetime(2032, 12, 15, tzinfo=UTC)


def test_an_expiry_timer_set_earlier_than_the_unit_expires_stops_at_an_incident(w: World, frozen) -> None:
    """The unit's ``expires_at`` decides, not the timer: early, the step refuses (an incident to see)."""
    app_id = provisioned(w, 1)
    [unit] = w.units(app_id)
    early = w.engine.runtime.start(expiry.PROCESS_KEY, tenant_id=w.tenant["alpha"], business_key="y" * 36,
                                   variables={"unit_id": unit.id, "request_id": "y" * 36,
                                              "expires_at": JAN31.isoformat()})
    until(w, frozen, JAN31 + timedelta(minutes=1))
    status, _data, incidents = w.instance(early.id)
    assert status == "incident" and [i.error_code for i in incidents] == ["NOT_DUE"]
    assert w.units(app_id)[0].status == "running" and at_provider(w, unit.resource_id) == "running"


def test_a_term_whose_expiry_did_not_start_gets_it_from_the_sweep_once(any_w: World, frozen) -> None:
    """The unit runs with a term, but the start after the step's commit failed (the database went
    away between the two): ``expires_at`` set, no ``expiry_key``, no instance. The sweep starts
    it once its grace has passed, exactly once however often it or a racing start runs."""
    w = any_w
    app_id = provisioned(w, None)
    [unit] = w.units(app_id)
    with w.engine.db.write() as s:
        s.get(ProvisioningUnit, unit.id).expires_at = FEB28
    assert expiries(w) == []
    assert expiry.sweep(w.engine) == []  # within the grace: the step's own start may still be coming

    frozen.set(JAN31 + timedelta(seconds=expiry.SWEEP_GRACE_S + 1))
    [periodic] = [p for p in periodic_work(w.engine) if p.name == "subscription-expiry-sweep"]  # workers run it
    [started] = periodic.run()
    [instance] = expiries(w)
    assert instance.id == started and w.units(app_id)[0].expiry_key == instance.business_key
    assert expiry.sweep(w.engine) == []
    racing = expiry.Expiring(unit.tenant_id, unit.id, FEB28)
    assert expiry.schedule(w.engine, [racing]) == []  # claimed already: no second instance, no audit
    assert len(expiries(w)) == 1
    with w.engine.db.read() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "provisioning.expiry_unscheduled")).all() == []

    until(w, frozen, FEB28 + timedelta(minutes=1))
    assert w.units(app_id)[0].status == "terminated" and expiries(w)[0].status == "completed"
    assert at_provider(w, unit.resource_id) == "deleted"
