"""Faults at the provider while an order is provisioned (simulator ``add_fault``): every path ends
with each unit in a defined state and never two resources for one unit."""

from __future__ import annotations

from sqlalchemy import func, select

from connectors import simulator
from engine import clock
from engine.domains.billing.models import RatedResource
from tests.domains.provisioning.conftest import CLOUD, World


def _rated(w: World) -> int:
    with w.engine.db.read() as s:
        return s.scalar(select(func.count()).select_from(RatedResource))


def test_a_timeout_is_tried_again_after_the_back_off_and_then_runs(world: World, frozen: clock.FrozenClock) -> None:
    w = world
    simulator.add_fault(w.state, CLOUD, op="create", nth=1, kind="timeout")
    app_id = w.approved([("small", 1)])
    started = w.order(app_id, w.choice(("item1", w.pool["cpu"], 1)))
    status, _data, _incidents = w.instance(started.id)
    [unit] = w.units(app_id)
    assert status == "running" and (unit.status, unit.attempts) == ("creating", 1)
    assert w.wait(frozen, 29) == 0  # the first back-off is 30 s
    assert w.wait(frozen, 2) == 1
    [unit] = w.units(app_id)
    assert (unit.status, unit.attempts) == ("running", 2)
    assert w.instance(started.id)[0] == "completed"
    assert w.sim_count() == 1 and _rated(w) == 1


def test_a_lost_response_is_retried_with_the_same_token_and_makes_exactly_one_resource(
        world: World, frozen: clock.FrozenClock) -> None:
    w = world
    simulator.add_fault(w.state, CLOUD, op="create", nth=1, kind="lose_response")
    app_id = w.approved([("small", 1)])
    started = w.order(app_id, w.choice(("item1", w.pool["cpu"], 1)))
    assert w.sim_count() == 1  # made at the provider, the answer lost
    [unit] = w.units(app_id)
    assert (unit.status, unit.resource_id) == ("creating", None)
    w.wait(frozen, 31)
    [unit] = w.units(app_id)
    assert unit.status == "running" and unit.resource_id is not None
    assert simulator.count_resources(w.state, CLOUD, client_token=unit.client_token) == 1
    assert w.sim_count() == 1 and _rated(w) == 1
    assert w.instance(started.id)[0] == "completed"


def test_the_back_offs_grow_30_s_2_min_10_min(world: World, frozen: clock.FrozenClock) -> None:
    w = world
    for nth in (1, 2, 3):
        simulator.add_fault(w.state, CLOUD, op="create", nth=nth, kind="error", error="Unreachable")
    app_id = w.approved([("small", 1)])
    started = w.order(app_id, w.choice(("item1", w.pool["cpu"], 1)))
    for wait, attempts in ((30, 2), (120, 3), (600, 4)):
        assert w.wait(frozen, wait - 1) == 0
        assert w.wait(frozen, 2) == 1
        assert w.units(app_id)[0].attempts == attempts
    [unit] = w.units(app_id)
    assert (unit.status, unit.attempts) == ("running", 4)
    assert w.instance(started.id)[0] == "completed" and w.sim_count() == 1


def test_a_provider_quota_refusal_moves_the_unit_to_the_next_cheapest_pool(world: World) -> None:
    w = world
    app_id = w.approved([("a100-1", 3)])  # the cheap zone holds two A100
    started = w.order(app_id, w.choice(("item1", w.pool["a100-cheap"], 3)))
    status, _data, incidents = w.instance(started.id)
    assert (status, incidents) == ("completed", [])
    units = w.units(app_id)
    assert [u.status for u in units] == ["running"] * 3
    assert sorted(u.pool_id for u in units) == sorted([w.pool["a100-cheap"]] * 2 + [w.pool["a100-dear"]])
    moved = next(u for u in units if u.pool_id == w.pool["a100-dear"])
    assert moved.client_token.endswith("-r1") and moved.attempts == 2
    assert w.sim_count() == 3 and _rated(w) == 3
    assert w.order_row(app_id).status == "running"
