"""Placement operators against a fake port: they hand the instance, objectives, weights and limit
to the ``placement`` port and return what it answers; the port's refusal becomes the BPMN error
of its code; a non-object instance never reaches the port."""

from __future__ import annotations

from typing import Any

import pytest

from tasks import placement
from tasks.ports import Refused, bound
from tasks.registry import REGISTRY, OperatorError
from tests.tasks.conftest import item

INSTANCE = {"requests": [{"id": "a", "vcpu": 2, "count": 1}], "pools": []}


class FakePlacement:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.refuse: Refused | None = None
        self.pool_list: list[dict[str, Any]] = [{"id": "p1"}]
        self.placed = 0

    def plans(self, instance, objectives=None, weights=None, time_limit_s=None):
        self.calls.append(("plans", instance, objectives, weights, time_limit_s))
        if self.refuse:
            raise self.refuse
        return {"plans": [{"objective": "cost", "placed": self.placed}]}

    def what_if(self, instance, objective, drain=None, capacity=None, weights=None, time_limit_s=None):
        self.calls.append(("what_if", instance, objective, drain, capacity, weights, time_limit_s))
        if self.refuse:
            raise self.refuse
        return {"delta": {"placed": 1}}


    def pools(self):
        self.calls.append(("pools",))
        return list(self.pool_list)

    def record_plans(self, application_id, plans, weights=None):
        self.calls.append(("record_plans", application_id, plans, weights))
        return {"skipped": False, "round": 1, "weights": weights, "objectives": [p["objective"] for p in plans],
                "plans": plans}

    def pick(self, application_id, objective):
        self.calls.append(("pick", application_id, objective))
        if self.refuse:
            raise self.refuse
        return {"objective": objective}

    def confirm(self, application_id, decision, comment=None):
        self.calls.append(("confirm", application_id, decision, comment))
        return {"objective": "cost"} if decision == "approve" else None


class FakeApplications:
    def __init__(self, items) -> None:
        self.items = items

    def get(self, application_id):
        if application_id != "app-1":
            raise Refused("UNKNOWN_APPLICATION", f"no application {application_id!r}")
        return {"id": "app-1", "items": self.items}


class Ports:
    def __init__(self) -> None:
        self.placement = FakePlacement()
        self.applications = FakeApplications([item(quantity=2), item(spec_name="gpu", vcpu=32, memory_gib="256",
                                                                     gpu_model="H100", gpu_count=4,
                                                                     gpus_by_model={"H100": 4})])


@pytest.fixture
def ports():
    with bound(Ports()) as p:
        yield p


def test_solve_hands_everything_to_the_port_and_returns_its_plans(ports):
    out = placement.solve(INSTANCE, objectives=["cost"], weights={"cost": 1}, time_limit_s=3)
    assert out == {"plans": [{"objective": "cost", "placed": 0}]}
    assert ports.placement.calls == [("plans", INSTANCE, ["cost"], {"cost": 1}, 3)]


def test_what_if_hands_the_changes_to_the_port(ports):
    out = placement.what_if(INSTANCE, "cost", drain=["p1"], capacity={"p2": {"vcpu": 8}})
    assert out == {"delta": {"placed": 1}}
    assert ports.placement.calls == [("what_if", INSTANCE, "cost", ["p1"], {"p2": {"vcpu": 8}}, None, None)]


def test_a_refused_instance_is_the_bpmn_error_of_its_code(ports):
    ports.placement.refuse = Refused("INVALID_INSTANCE", "requests[0].vcpu: must be a number")
    with pytest.raises(OperatorError) as err:
        placement.solve(INSTANCE)
    assert err.value.code == "INVALID_INSTANCE" and "requests[0].vcpu" in err.value.message


@pytest.mark.parametrize("call", [lambda: placement.solve(["not", "an", "object"]),
                                  lambda: placement.solve(INSTANCE, weights=[1]),
                                  lambda: placement.what_if(INSTANCE, "cost", capacity="lots")])
def test_a_value_that_is_not_an_object_never_reaches_the_port(ports, call):
    with pytest.raises(OperatorError) as err:
        call()
    assert err.value.code == "INVALID_INSTANCE" and ports.placement.calls == []


def test_the_operators_are_registered_by_name():
    assert REGISTRY.get("placement/solve").func is placement.solve
    assert REGISTRY.get("placement/what_if").func is placement.what_if


def test_solve_for_an_application_builds_the_instance_from_its_items_and_the_tenants_pools(ports):
    out = placement.solve(application_id="app-1", objectives=["cost"])
    requests = out["instance"]["requests"]
    assert [(r["id"], r["vcpu"], r["mem_gib"], r["gpu_model"], r["gpu_count"], r["count"], r["region"])
            for r in requests] == [("item1", 2, "4", None, 0, 2, None), ("item2", 32, "256", "H100", 4, 1, None)]
    assert ports.placement.calls[0] == ("pools",)
    assert ports.placement.calls[1][1] == {"requests": requests, "pools": [{"id": "p1"}]}


def test_an_unknown_application_is_the_bpmn_error_of_the_port(ports):
    with pytest.raises(OperatorError) as err:
        placement.solve(application_id="app-of-another-tenant")
    assert err.value.code == "UNKNOWN_APPLICATION" and ports.placement.calls == []


def test_an_item_mixing_accelerator_models_cannot_be_placed_whole():
    with pytest.raises(OperatorError) as err:
        placement.requests_from([item(gpu_count=2, gpus_by_model={"A100": 1, "H100": 1})])
    assert err.value.code == "INVALID_ITEMS"


def test_propose_with_no_pool_skips_the_step_without_reading_the_application(ports):
    ports.placement.pool_list = []
    assert placement.propose("app-1") == {"skipped": True, "reason": "no pool to place on"}
    assert ports.placement.calls == [("pools",)]


def test_propose_solves_the_applications_items_and_stores_the_plans(ports):
    ports.placement.placed = 3
    out = placement.propose("app-1", weights={"cost": 1, "performance": 2, "balance": 0})
    [pools, solved, stored] = ports.placement.calls
    assert solved[0] == "plans" and [r["id"] for r in solved[1]["requests"]] == ["item1", "item2"]
    assert solved[1]["pools"] == [{"id": "p1"}] and solved[3] == {"cost": 1, "performance": 2, "balance": 0}
    assert stored == ("record_plans", "app-1", [{"objective": "cost", "placed": 3}],
                      {"cost": 1, "performance": 2, "balance": 0})
    assert out["skipped"] is False and out["objectives"] == ["cost"]


def test_propose_skips_the_step_when_no_plan_places_a_copy(ports):
    out = placement.propose("app-1")
    assert out["skipped"] is True and "any of the items" in out["reason"]
    assert [c[0] for c in ports.placement.calls] == ["pools", "plans"]


def test_propose_skips_an_application_whose_item_cannot_go_whole_to_one_pool(ports):
    ports.applications.items = [item(gpu_count=2, gpus_by_model={"A100": 1, "H100": 1})]
    out = placement.propose("app-1")
    assert out["skipped"] is True and "mixes accelerator models" in out["reason"]
    assert [c[0] for c in ports.placement.calls] == ["pools"]


def test_propose_for_another_application_is_the_bpmn_error_of_the_port(ports):
    with pytest.raises(OperatorError) as err:
        placement.propose("app-of-another-tenant")
    assert err.value.code == "UNKNOWN_APPLICATION"


def test_pick_and_confirm_hand_the_decision_to_the_port(ports):
    assert placement.pick("app-1", "performance") == {"objective": "performance"}
    assert placement.confirm("app-1", "approve") == {"objective": "cost"}
    assert placement.confirm("app-1", "return", "take the cheaper one") is None
    assert ports.placement.calls == [("pick", "app-1", "performance"), ("confirm", "app-1", "approve", None),
                                     ("confirm", "app-1", "return", "take the cheaper one")]


def test_a_pick_of_a_plan_not_solved_is_the_bpmn_error_no_such_plan(ports):
    ports.placement.refuse = Refused("NO_SUCH_PLAN", "no 'custom' plan in round 1")
    with pytest.raises(OperatorError) as err:
        placement.pick("app-1", "custom")
    assert err.value.code == "NO_SUCH_PLAN"


def test_the_step_operators_are_registered_by_name():
    for name, func in (("propose", placement.propose), ("pick", placement.pick), ("confirm", placement.confirm)):
        assert REGISTRY.get(f"placement/{name}").func is func
