"""The instance as JSON: every malformed field is named (``requests[3].vcpu``), other top-level
keys are ignored, and weights, objectives and time limits are checked the same way."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.domains.placement import service
from engine.domains.placement.instance import InstanceError, dump, parse
from tests.domains.placement.helpers import pool, request


def fields(data) -> list[str]:
    with pytest.raises(InstanceError) as err:
        parse(data)
    return [e["field"] for e in err.value.errors]


def test_other_top_level_keys_are_ignored_and_amounts_are_exact():
    instance = parse({"requests": [request("a", mem="16.5")], "pools": [pool("p")], "note": "ignored", "x": [1]})
    assert instance.requests[0].mem_gib == Decimal("16.5")
    assert parse(dump(instance)) == instance


@pytest.mark.parametrize("data, field", [
    ([], ""),
    ({"pools": []}, "requests"),
    ({"requests": [], "pools": {}}, "pools"),
    ({"requests": [request("a", vcpu=-1)], "pools": []}, "requests[0].vcpu"),
    ({"requests": [request("a", vcpu="lots")], "pools": []}, "requests[0].vcpu"),
    ({"requests": [{**request("a"), "count": 0}], "pools": []}, "requests[0].count"),
    ({"requests": [{**request("a"), "count": 1.5}], "pools": []}, "requests[0].count"),
    ({"requests": [{**request("a"), "gpu_count": 2}], "pools": []}, "requests[0].gpu_model"),
    ({"requests": [request("a"), request("a")], "pools": []}, "requests[1].id"),
    ({"requests": [], "pools": [{**pool("p"), "region": ""}]}, "pools[0].region"),
    ({"requests": [], "pools": [{**pool("p"), "capacity": {"vcpu": 100, "mem_gib": 1, "storage_gib": 1}}]},
     "pools[0].capacity.vcpu"),
    ({"requests": [], "pools": [{**pool("p", gpu={"H100": 2}), "unit_cost": {"vcpu": 1}}]},
     "pools[0].unit_cost.gpu.H100"),
    ({"requests": [], "pools": [{**pool("p"), "utilisation": {"vcpu": 1.5}}]}, "pools[0].utilisation.vcpu"),
    ({"requests": [], "pools": [pool("p"), pool("p")]}, "pools[1].id"),
])
def test_a_malformed_field_is_named(data, field):
    assert field in fields(data)


def test_every_problem_is_reported_not_just_the_first():
    assert fields({"requests": [request("a", vcpu=-1), {**request("b"), "count": 0}], "pools": [{"id": 1}]})[:2] == [
        "requests[0].vcpu", "requests[1].count"]


def test_utilisation_left_out_is_what_is_not_left_of_the_total():
    data = pool("p", vcpu=100)
    data["capacity"]["vcpu"] = 25
    del data["utilisation"]
    assert parse({"requests": [], "pools": [data]}).pools[0].utilisation.vcpu == Decimal("0.75")


@pytest.mark.parametrize("weights, field", [
    ([1], "weights"), ({"cost": -1}, "weights.cost"), ({"speed": 1}, "weights.speed"),
    ({"cost": 0, "performance": 0, "balance": 0}, "weights"), ({"cost": True}, "weights.cost")])
def test_bad_weights_are_named(weights, field):
    with pytest.raises(InstanceError) as err:
        service.weights(weights)
    assert field in [e["field"] for e in err.value.errors]


@pytest.mark.parametrize("kw, field", [
    ({"wanted": ["fastest"]}, "objectives"), ({"wanted": ["custom"]}, "weights"), ({"time_limit_s": 0}, "time_limit_s"),
    ({"time_limit_s": "10"}, "time_limit_s"), ({"solver": "gurobi"}, "solver")])
def test_bad_objectives_limits_and_solvers_are_named(kw, field):
    with pytest.raises(InstanceError) as err:
        service.plans({"requests": [request("a")], "pools": [pool("p")]}, **kw)
    assert [e["field"] for e in err.value.errors] == [field]


def test_the_service_answers_json_with_money_as_exact_text():
    out = service.plans({"requests": [request("a", count=3)], "pools": [pool("p")]}, wanted=["cost"])
    [plan] = out["plans"]
    assert plan["cost"] == "0.7200" and plan["assignments"] == [{"request_id": "a", "pool_id": "p", "copies": 3}]
    assert set(plan) >= {"objective", "assignments", "placed", "cost", "performance", "max_util", "status", "gap",
                         "bound", "solve_s", "explanation"}
