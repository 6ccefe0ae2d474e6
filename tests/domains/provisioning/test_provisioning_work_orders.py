"""Units that end with operations (``work_order``): a persistent provider error, spent retries, a
unit with no pool to go to. The unit waits in ``work_order`` while operations work; the order shows
it waiting beside the running ones, and ends partial, running or failed with the work order's end."""

from __future__ import annotations

from sqlalchemy import func, select

from connectors import simulator
from engine import clock, site_messages
from engine.domains.applications import service as applications
from engine.domains.billing.models import RatedResource
from engine.domains.work_orders.models import WorkOrder
from tests.domains.provisioning.conftest import CLOUD, World


def _work_orders(w: World) -> list[WorkOrder]:
    with w.engine.db.read() as s:
        return list(s.scalars(select(WorkOrder)))


def test_a_persistent_error_opens_a_failure_work_order_and_the_order_ends_partial(any_world: World) -> None:
    w = any_world
    simulator.add_fault(w.state, CLOUD, op="create", nth=1, kind="error", error="Unauthorised")
    app_id = w.approved([("small", 2)])
    started = w.order(app_id, w.choice(("item1", w.pool["cpu"], 2)))
    status, _data, incidents = w.instance(started.id)
    assert (status, incidents) == ("running", [])
    units = w.units(app_id)
    assert sorted(u.status for u in units) == ["running", "work_order"]
    failed = next(u for u in units if u.status == "work_order")
    assert failed.attempts == 1 and failed.last_error.startswith("CONNECTOR_UNAUTHORISED")  # not retried
    [wo] = _work_orders(w)
    assert (wo.kind, wo.unit_id, wo.tenant_id) == ("failure", failed.id, w.tenant["alpha"])
    order = applications.get(w.engine, w.user, app_id)["order"]
    assert order["status"] == "provisioning"
    assert {k: order["items"][0]["provisioning"][k] for k in ("running", "waiting")} == {"running": 1, "waiting": 1}

    assert w.work_orders(started.id, "cannot_do") == 1
    assert w.instance(started.id)[0] == "completed"
    failed = next(u for u in w.units(app_id) if u.id == failed.id)
    assert (failed.status, failed.work_order_id) == ("failed", wo.id)
    assert w.order_row(app_id).status == "partial"
    assert w.sim_count() == 1
    items, _total = site_messages.list_messages(w.engine, w.user, limit=100)
    assert any(m.kind == "order_partial" for m in items)


def test_a_unit_without_a_pool_is_delivered_by_operations_and_billed(world: World) -> None:
    w = world
    app_id = w.approved([("small", 1)])
    started = w.order(app_id, None)  # no placement: every unit goes to operations
    [unit] = w.units(app_id)
    assert (unit.status, unit.pool_id, unit.attempts) == ("work_order", None, 0)
    [wo] = _work_orders(w)
    assert wo.kind == "delivery"
    assert w.work_orders(started.id, "done") == 1
    [unit] = w.units(app_id)
    assert (unit.status, unit.resource_id, unit.work_order_id) == ("running", None, wo.id)
    assert w.order_row(app_id).status == "running" and w.instance(started.id)[0] == "completed"
    with w.engine.db.read() as s:
        assert s.scalars(select(RatedResource.resource_ref)).all() == [f"unit:{unit.id}"]


def test_spent_retries_end_in_a_failure_work_order(world: World, frozen: clock.FrozenClock) -> None:
    w = world
    for nth in (1, 2, 3, 4):
        simulator.add_fault(w.state, CLOUD, op="create", nth=nth, kind="timeout")
    app_id = w.approved([("small", 1)])
    started = w.order(app_id, w.choice(("item1", w.pool["cpu"], 1)))
    for wait in (30, 120, 600):
        w.wait(frozen, wait + 1)
    [unit] = w.units(app_id)
    assert (unit.status, unit.attempts) == ("work_order", 4)
    assert unit.last_error.startswith("CONNECTOR_TIMEOUT")
    [wo] = _work_orders(w)
    assert wo.kind == "failure" and wo.source_key == f"prov:{unit.id}:failure:4"
    w.work_orders(started.id, "cannot_do")
    assert w.order_row(app_id).status == "failed" and w.sim_count() == 0
    with w.engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(RatedResource)) == 0


def test_quota_refused_on_every_pool_that_could_hold_it_ends_in_a_work_order(world: World) -> None:
    w = world
    for nth in (1, 2):  # the cheap zone refuses, then the dear one; the CPU zone has no A100
        simulator.add_fault(w.state, CLOUD, op="create", nth=nth, kind="error", error="ProviderQuotaExceeded")
    app_id = w.approved([("a100-1", 1)])
    started = w.order(app_id, w.choice(("item1", w.pool["a100-cheap"], 1)))
    [unit] = w.units(app_id)
    assert (unit.status, unit.attempts, unit.pool_id) == ("work_order", 2, w.pool["a100-dear"])
    assert unit.last_error.startswith("CONNECTOR_QUOTA_EXCEEDED")
    [wo] = _work_orders(w)
    assert wo.kind == "failure" and wo.unit_id == unit.id
    w.work_orders(started.id, "cannot_do")
    assert w.order_row(app_id).status == "failed" and w.sim_count() == 0
