"""Rating on a real database (SQLite and PostgreSQL): proration on start, spec change and stop,
month ends; usage rated set-based and idempotently; plan versions never reprice; tenants apart."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine import clock
from engine.domains.billing import plans, rating
from engine.domains.billing.models import Bill
from engine.models import AuditEntry
from tests.domains.billing.conftest import World, at

D = Decimal


@pytest.fixture
def world(any_engine):
    return World(any_engine)


@pytest.fixture(autouse=True)
def now():
    fc = clock.FrozenClock(at("2026-03-20T12:00:00"))
    previous = clock.use(fc)
    yield fc
    clock.use(previous)


def amounts(lines):
    return [(ln.day.isoformat(), str(ln.amount)) for ln in lines]


def test_a_monthly_plan_started_mid_month_is_prorated_by_whole_days(world):
    world.plan(day_rule="month_div_days_in_month")  # 3100 a month
    world.start(resource_ref="vm-1", started_at=at("2026-02-27T15:00:00"))
    for d in (date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1)):
        world.rate("t-alpha", d)
    # February has 28 days: 3100/28 = 110.714.. -> 110.71; March 1: 3100/31 = 100
    assert amounts(world.lines("t-alpha")) == [("2026-02-27", "110.71"), ("2026-02-28", "110.71"),
                                               ("2026-03-01", "100.00")]


def test_hour_proration_bills_the_hours_started_on_the_first_and_last_day(world):
    world.plan(day_rule="month_div_31", proration="hour")  # 100 a day
    world.start(resource_ref="vm-1", started_at=at("2026-03-02T15:30:00"))
    world.stop(resource_ref="vm-1", stopped_at=at("2026-03-03T06:00:00"))
    world.rate("t-alpha", date(2026, 3, 2))
    # 15:30-24:00 is 8.5 h: 9 hours started -> 100 x 9/24 = 37.50; 00:00-06:00 -> 25.00
    assert amounts(world.lines("t-alpha")) == [("2026-03-02", "37.50"), ("2026-03-03", "25.00")]


def test_a_stop_produces_the_final_prorated_line_at_once(world):
    world.plan(unit="hour", unit_price="2.5", proration="hour", day_rule=None)
    world.start(resource_ref="vm-1", started_at=at("2026-03-05T00:00:00"), quantity=2)
    result = world.stop(resource_ref="vm-1", stopped_at=at("2026-03-05T10:20:00"))
    assert result["final_line"] == {"day": "2026-03-05", "amount": "55.00"}  # 11 h x 2.5 x 2
    assert world.stop(resource_ref="vm-1", stopped_at=at("2026-03-05T11:00:00"))["stopped"] is False


def test_a_spec_change_prorates_both_specs_on_the_day_of_the_change(world):
    small = world.plan(unit="day", unit_price="24", day_rule=None, proration="hour")
    with world.engine.db.read() as s:
        code = s.get(plans.PricePlan, small).code
    world.start(resource_ref="vm-1", started_at=at("2026-03-05T00:00:00"), plan_code=code)
    world.stop(resource_ref="vm-1", stopped_at=at("2026-03-05T06:00:00"))
    world.start(resource_ref="vm-1", started_at=at("2026-03-05T06:00:00"), plan_code=code, quantity=3)
    world.rate("t-alpha", date(2026, 3, 5))
    assert sorted(str(ln.amount) for ln in world.lines("t-alpha")) == ["54.00", "6.00"]  # 6 h x 1; 18 h x 1 x 3


def test_a_new_plan_version_never_reprices_a_running_resource_or_a_rated_line(world, now):
    plan_id = world.plan(unit="day", unit_price="10", day_rule=None)
    world.start(resource_ref="vm-1", started_at=at("2026-03-01T00:00:00"))
    world.rate("t-alpha", date(2026, 3, 1))
    with world.engine.db.write() as s:
        newer = plans.new_version(s, plan_id, {"unit_price": "99"}, actor="admin")
    assert newer.version == 2
    world.rate("t-alpha", date(2026, 3, 1))
    world.rate("t-alpha", date(2026, 3, 2))
    assert amounts(world.lines("t-alpha")) == [("2026-03-01", "10.00"), ("2026-03-02", "10.00")]
    assert {ln.plan_version for ln in world.lines("t-alpha")} == {1}


def test_the_most_specific_plan_applies_and_the_line_says_why(world):
    world.plan(target_kind="product", target=world.product, unit="day", unit_price="5", day_rule=None)
    world.plan(unit="day", unit_price="7", day_rule=None)
    world.plan(unit="day", unit_price="3", day_rule=None, tenant_id="t-alpha")
    world.start(resource_ref="vm-a", started_at=at("2026-03-01T00:00:00"))
    world.start("t-beta", resource_ref="vm-b", started_at=at("2026-03-01T00:00:00"))
    world.rate("t-alpha", date(2026, 3, 1))
    world.rate("t-beta", date(2026, 3, 1))
    assert str(world.lines("t-alpha")[0].amount) == "3.00"
    assert str(world.lines("t-beta")[0].amount) == "7.00"  # the spec's list price beats the product's


def test_a_discount_applies_to_the_line_and_is_explained(world):
    world.plan(code="gpu-day", unit="day", unit_price="200", day_rule=None)
    with world.engine.db.write() as s:
        plans.create_discount(s, {"tenant_id": "t-alpha", "kind": "percent", "value": "15",
                                  "valid_from": "2026-01-01T00:00:00+00:00"}, actor="admin")
    world.start(resource_ref="vm-1", started_at=at("2026-03-01T00:00:00"))
    world.rate("t-alpha", date(2026, 3, 1))
    line = world.lines("t-alpha")[0]
    assert line.amount == D("170.00") and line.explanation["discount"]["kind"] == "percent"


def test_usage_is_aggregated_per_model_and_priced_on_the_component_of_that_model(world):
    world.plan(target_kind="component", target="input_tokens", billing_mode="per_use", unit="use",
               unit_price="0.00001", day_rule=None)
    world.plan(target_kind="component", target="input_tokens:qwen-72b", billing_mode="per_use", unit="use",
               unit_price="0.00002", day_rule=None)
    events = [World.event(quantity="1000", model="qwen-72b") for _ in range(50)]
    events += [World.event(quantity="500", model="llama-3") for _ in range(10)]
    assert world.ingest(events)["accepted"] == 60
    world.rate("t-alpha", date(2026, 3, 1))
    by_model = {ln.model: (ln.quantity, ln.amount) for ln in world.lines("t-alpha")}
    assert by_model == {"qwen-72b": (D(50000), D("1.00")), "llama-3": (D(5000), D("0.05"))}


def test_rating_twice_counts_nothing_twice_and_late_usage_after_close_becomes_an_adjustment(world):
    world.plan(target_kind="component", target="api_calls", billing_mode="per_use", unit="use", unit_price="0.01",
               day_rule=None)
    world.ingest([World.event(component="api_calls", quantity="100") for _ in range(3)])
    day = date(2026, 3, 1)
    world.rate("t-alpha", day)
    world.rate("t-alpha", day)
    assert [ln.amount for ln in world.lines("t-alpha")] == [D("3.00")]
    world.close("t-alpha", day)
    world.ingest([World.event(component="api_calls", quantity="50")])
    with world.engine.db.read() as s:
        assert rating.due_days(s, "t-alpha", date(2026, 3, 20)) == [day]
    world.rate("t-alpha", day)
    lines = world.lines("t-alpha")
    assert [(ln.kind, ln.amount) for ln in lines] == [("adjustment", D("0.50")), ("rated", D("3.00"))]
    assert "after 2026-03-01 was closed" in lines[0].reason
    world.rate("t-alpha", day)
    assert len(world.lines("t-alpha")) == 2


@pytest.mark.parametrize(("aggregation", "window", "expected"), [
    ("sum", "day", "60"), ("max", "day", "30"), ("max", "hour", "50"), ("count", "day", "3"),
    ("latest", "day", "20"), ("unique_count", "day", "2")])
def test_a_meter_aggregates_a_component_as_it_says(world, aggregation, window, expected):
    with world.engine.db.write() as s:
        from engine.domains.billing import usage

        usage.set_meter(s, "storage_gib", {"aggregation": aggregation, "window": window})
    world.ingest([World.event(component="storage_gib", quantity="10", model=None, time="2026-03-01T01:00:00Z",
                              value_key="a"),
                  World.event(component="storage_gib", quantity="30", model=None, time="2026-03-01T01:30:00Z",
                              value_key="b"),
                  World.event(component="storage_gib", quantity="20", model=None, time="2026-03-01T05:00:00Z",
                              value_key="a")])
    world.rate("t-alpha", date(2026, 3, 1))
    [line] = world.lines("t-alpha")
    assert line.quantity == D(expected) and line.amount == 0 and "unpriced" in line.explanation


def test_a_tenant_rates_and_sees_only_its_own_usage(world):
    world.plan(target_kind="component", target="api_calls", billing_mode="per_use", unit="use", unit_price="1",
               day_rule=None)
    world.ingest([World.event(component="api_calls", quantity="5", id="same")])
    world.ingest([World.event(component="api_calls", quantity="7", id="same")], tenant="t-beta")
    world.rate("t-alpha", date(2026, 3, 1))
    world.rate("t-beta", date(2026, 3, 1))
    assert world.total("t-alpha") == D(5) and world.total("t-beta") == D(7)


def test_closing_a_months_last_day_closes_the_bill_and_a_later_change_lands_on_the_open_bill(world):
    world.plan(unit="day", unit_price="24", day_rule=None, proration="hour")
    world.start(resource_ref="vm-1", started_at=at("2026-02-27T00:00:00"))
    for d in (date(2026, 2, 27), date(2026, 2, 28)):
        world.close("t-alpha", d)
    with world.engine.db.read() as s:
        feb = s.scalars(select(Bill).where(Bill.tenant_id == "t-alpha", Bill.period == "2026-02")).one()
        assert (feb.status, feb.total) == ("closed", D("48.00"))
    world.stop(resource_ref="vm-1", stopped_at=at("2026-02-28T12:00:00"))  # a stop recorded late
    [adj] = [ln for ln in world.lines("t-alpha") if ln.kind == "adjustment"]
    assert (adj.day.isoformat(), adj.amount) == ("2026-02-28", D("-12.00"))
    with world.engine.db.read() as s:
        feb = s.scalars(select(Bill).where(Bill.tenant_id == "t-alpha", Bill.period == "2026-02")).one()
        march = s.get(Bill, adj.bill_id)
        assert feb.total == D("48.00")  # a closed bill never changes
        assert (march.period, march.status, march.total) == ("2026-03", "open", D("-12.00"))
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.target_id == adj.id)) == "billing.line.adjust"


def test_seconds_a_spec_runs_are_metered_into_hours_and_priced_on_the_specs_plan(world):
    world.plan(unit="hour", unit_price="2.5", day_rule=None)
    world.ingest([World.event(component="runtime_hours", quantity="3600", model=None, spec_id=world.spec,
                              resource_id="vm-9") for _ in range(2)])
    world.rate("t-alpha", date(2026, 3, 1))
    [line] = world.lines("t-alpha")
    assert (line.quantity, line.amount, line.resource_id) == (D(2), D("5.00"), "vm-9")  # 7200 s = 2 h x 2.5
    assert line.explanation["chosen"] == "list price on the spec"
