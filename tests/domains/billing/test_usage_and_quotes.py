"""Usage ingestion (replays, malformed events, a burst while the day closes) and quote = bill, on a
real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine import clock
from engine.domains.billing import quotes, rating
from engine.domains.billing.models import BillLine, UsageEvent
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


def stored(world, tenant="t-alpha"):
    with world.engine.db.read() as s:
        return s.scalar(select(func.count()).select_from(UsageEvent).where(UsageEvent.tenant_id == tenant))


def test_a_replayed_batch_changes_nothing(world):
    batch = [World.event() for _ in range(20)]
    assert world.ingest(batch) == {"accepted": 20, "duplicates": 0, "rejected": []}
    assert world.ingest(batch) == {"accepted": 0, "duplicates": 20, "rejected": []}
    assert stored(world) == 20


def test_a_partly_malformed_batch_keeps_the_good_events_and_names_each_bad_one(world):
    good = [World.event() for _ in range(3)]
    no_id = World.event()
    del no_id["id"]
    future = World.event(time="2026-03-21T12:00:00Z")
    bad_quantity = World.event(quantity="-5")
    floaty = World.event(quantity="1e-9")
    foreign = World.event()
    foreign["tenantid"] = "t-beta"
    other_org = World.event(organization_id="org-of-nobody")
    batch = [good[0], no_id, good[1], future, bad_quantity, "text", floaty, foreign, other_org, good[2]]
    result = world.ingest(batch)
    assert result["accepted"] == 3
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (1, "id"), (3, "time"), (4, "data.quantity"), (5, ""), (6, "data.quantity"), (7, "tenantid"),
        (8, "data.organization_id")]
    assert all(r["reason"] for r in result["rejected"])
    assert stored(world) == 3 and stored(world, "t-beta") == 0


def test_the_same_source_and_id_in_two_tenants_are_two_events(world):
    event = World.event(id="shared")
    assert world.ingest([event])["accepted"] == 1
    assert world.ingest([event], tenant="t-beta")["accepted"] == 1


def test_a_platform_caller_names_the_tenant_of_each_event(world):
    named, unnamed, unknown = World.event(), World.event(), World.event()
    named["tenantid"], unknown["tenantid"] = "t-beta", "t-nobody"
    result = world.ingest([named, unnamed, unknown], tenant=None)
    assert result["accepted"] == 1 and [r["index"] for r in result["rejected"]] == [1, 2]


def test_a_usage_burst_while_the_day_closes_loses_nothing_and_counts_nothing_twice(world):
    world.plan(target_kind="component", target="api_calls", billing_mode="per_use", unit="use", unit_price="0.01",
               day_rule=None)
    day = date(2026, 3, 1)
    world.ingest([World.event(component="api_calls", quantity="1") for _ in range(50)])
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def burst() -> None:
        try:
            barrier.wait()
            for _ in range(20):
                world.ingest([World.event(component="api_calls", quantity="1") for _ in range(10)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=burst)
    thread.start()
    barrier.wait()
    world.close("t-alpha", day)
    thread.join()
    assert not errors
    with world.engine.db.read() as s:
        due = rating.due_days(s, "t-alpha", day + timedelta(days=1))
    for d in due:
        world.rate("t-alpha", d)
    lines = world.lines("t-alpha", day)
    assert sum(ln.quantity for ln in lines) == D(250)  # every event once: 50 before, 200 during
    assert sum(ln.amount for ln in lines) == D("2.50")
    assert sum(1 for ln in lines if ln.kind == "rated") == 1


def test_the_quote_is_the_bill_for_the_same_inputs(world):
    """A GPU host on a monthly plan started mid-month and stopped in the next month, hour-prorated,
    with a tenant discount: the quote's daily lines are the bill's lines, to the cent."""
    world.plan(day_rule="month_x12_div_365", proration="hour", code="gpu-monthly")
    from engine.domains.billing import plans

    with world.engine.db.write() as s:
        plans.create_discount(s, {"tenant_id": "t-alpha", "plan_code": "gpu-monthly", "kind": "fixed", "value": "1.5",
                                  "valid_from": "2026-01-01T00:00:00+00:00"}, actor="admin")
    start, end = at("2026-01-17T09:45:00"), at("2026-02-03T13:10:00")
    with world.engine.db.read() as s:
        quoted = quotes.quote(s, "t-alpha", [{"spec_id": world.spec, "quantity": 2, "start": start.isoformat(),
                                               "end": end.isoformat()}], compare=True)
    world.start(resource_ref="vm-q", started_at=start, quantity=2)
    world.stop(resource_ref="vm-q", stopped_at=end)
    day = start.date()
    while day <= end.date():
        world.rate("t-alpha", day)
        day += timedelta(days=1)
    billed = [(ln.day.isoformat(), str(ln.amount)) for ln in world.lines("t-alpha")]
    assert [(ln["day"], ln["amount"]) for ln in quoted["items"][0]["lines"]] == billed
    assert D(quoted["total"]) == world.total("t-alpha")
    assert len(billed) == 18
    rules = quoted["items"][0]["comparison"]["day_rules"]
    assert set(rules) == {"month_div_31", "month_x12_div_365", "month_div_days_in_month",
                          "month_x12_div_days_in_year"}
    assert rules["month_x12_div_365"] == quoted["total"]


def test_a_quote_compares_graduated_and_volume_for_a_tiered_plan(world):
    world.plan(target_kind="component", target="storage_gib", unit="month", unit_price="0", day_rule="month_div_31",
               tier_mode="graduated", tiers=[{"up_to": "100", "price": "31"}, {"up_to": None, "price": "62"}])
    with world.engine.db.read() as s:
        quoted = quotes.quote(s, "t-alpha", [{"component": "storage_gib", "quantity": "150",
                                               "start": "2026-03-01T00:00:00+00:00",
                                               "end": "2026-03-02T00:00:00+00:00"}], compare=True)
    # a day at ÷ 31: graduated 100 x 1 + 50 x 2 = 200; volume 150 x 2 = 300
    assert quoted["total"] == "200.00"
    assert quoted["items"][0]["comparison"]["tier_modes"] == {"graduated": "200.00", "volume": "300.00"}


def test_a_quote_refuses_what_no_plan_prices_naming_the_field(world):
    from engine.errors import InvalidInput

    with world.engine.db.read() as s, pytest.raises(InvalidInput) as err:
        quotes.quote(s, "t-alpha", [{"component": "vcpu", "quantity": 1, "start": "2026-03-01T00:00:00+00:00",
                                     "end": "2026-03-02T00:00:00+00:00"}])
    assert err.value.errors[0]["field"] == "items[0].component"


def test_bill_lines_rated_from_usage_name_their_dimensions(world):
    world.plan(target_kind="component", target="output_tokens", billing_mode="per_use", unit="use",
               unit_price="0.0001", day_rule=None)
    world.ingest([World.event(component="output_tokens", quantity="10000", provider="vllm", resource_type="model")])
    world.rate("t-alpha", date(2026, 3, 1))
    with world.engine.db.read() as s:
        line = s.scalars(select(BillLine)).one()
    assert (line.provider, line.resource_type, line.billing_mode, line.amount) == ("vllm", "model", "per_use",
                                                                                    D("1.00"))


@pytest.mark.parametrize("component", [["x"], {"a": 1}, None, 5, "input_tokens:qwen", "teapots"])
def test_an_event_naming_no_component_is_refused_with_the_field(world, component):
    result = world.ingest([World.event(component=component)])
    assert result["accepted"] == 0 and result["rejected"][0]["field"] == "data.component"


def test_a_quote_reads_a_specs_plan_once_however_many_items_name_it(world):
    from tests.sql_budget import SqlCounter

    world.plan(code="gpu-monthly-reads")
    counter = SqlCounter(world.engine.db.engine)
    item = {"spec_id": world.spec, "quantity": 1, "start": "2026-03-01T00:00:00+00:00",
            "end": "2026-03-03T00:00:00+00:00"}
    counts = []
    for n in (1, 20):
        with world.engine.db.read() as s, counter.block() as tally:
            assert len(quotes.quote(s, "t-alpha", [item] * n, compare=True)["items"]) == n
        counts.append(tally.count)
    assert counts[0] == counts[1], counts
