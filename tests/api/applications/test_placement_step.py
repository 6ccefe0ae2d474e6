"""The placement step of an application over HTTP, on the product processes in bpmn/ (issue 14 item 5).

With two static pools (cheap and slow, dear and fast) an approved application offers its applicant
the cost-, performance- and balance-first plans; the applicant picks one (or re-solves with custom
weights), a platform operator confirms it (or returns it with a comment), and the confirmed
``placement_choice`` is what the order process is called with. Without pools the step is skipped.
The plans are stored, not kept in the process data, and only the application's tenant sees them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

import tasks.ports
from engine.domains.placement import ports as placement_ports
from engine.domains.placement.models import PlacementChoice
from engine.models import ProcessInstance
from engine.runtime.services import InstanceScope, running_for
from tasks.ports import Refused
from tests.api.applications.test_applications import decide, detail, submitted
from tests.api.conftest import Shop
from tests.domains.placement.helpers import pool

V1 = "/api/v1"


def pools(shop: Any) -> dict[str, str]:
    """A cheap pool of slow A100s and a dear pool of fast ones, both with room for the whole order."""
    out = {}
    for name, cost, perf in (("cheap", "1", "50"), ("fast", "4", "200")):
        resp = shop.client.post(f"{V1}/resource-pools", headers=shop.headers("operator"), json={
            "name": name, "region": "cn-north-1", "dimensions": {
                "vcpu": {"total": "256", "unit_cost": "0.01"}, "memory_gib": {"total": "2048", "unit_cost": "0.001"},
                "disk_gib": {"total": "10000", "unit_cost": "0"},
                "gpus:A100": {"total": "8", "unit_cost": cost, "perf_score": perf}}})
        assert resp.status_code == 201, resp.get_json()
        out[name] = resp.get_json()["id"]
    return out


def approved(shop: Any) -> dict[str, Any]:
    """An application (2 x one A100) approved by its organisation and a platform operator."""
    app = submitted(shop)
    assert decide(shop, app["id"], "alpha-approver").status_code == 200
    final = decide(shop, app["id"], "operator")
    assert final.status_code == 200, final.get_json()
    return final.get_json()


def task(shop: Any, user: str, app_id: str, spec: str) -> dict[str, Any]:
    items = shop.client.get(f"{V1}/tasks?page_size=100", headers=shop.headers(user)).get_json()["items"]
    found = [t for t in items if t["business_key"] == app_id and t["task_spec"] == spec]
    assert len(found) == 1, [(t["business_key"], t["task_spec"]) for t in items]
    return found[0]


def complete(shop: Any, user: str, app_id: str, spec: str, data: dict[str, Any]) -> Any:
    found = task(shop, user, app_id, spec)
    return shop.client.post(f"{V1}/tasks/{found['id']}/complete", headers=shop.headers(user), json={"data": data})


def instance_data(shop: Any, app_id: str, spec: str = "call_order") -> dict[str, Any]:
    """The application instance's data at its task ``spec`` (default: where it called the order process)."""
    with shop.engine.db.read() as s:
        row = s.query(ProcessInstance).filter_by(business_key=app_id, process_key="application").one()
        workflow = shop.engine.runtime.load(s, row).workflow
    [found] = [t for t in workflow.get_tasks() if t.task_spec.name == spec]
    return found.data


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_shop(request: pytest.FixtureRequest) -> Any:
    """The shop of tests/api/conftest.py on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("shop")
    shop = Shop(request.getfixturevalue("pg_client"), request.getfixturevalue("pg_api_engine"))
    shop.set_quota("alpha", vcpu=1000, memory_gib=16384, disk_gib=100000, gpus=16, instances=20, eips=20)
    return shop


def test_the_applicant_picks_performance_the_operator_confirms_and_the_order_gets_it(any_shop: Any) -> None:
    shop = any_shop
    ids = pools(shop)
    app = approved(shop)
    assert app["status"] == "approved" and app["order"] is None  # waiting for the placement
    seen = detail(shop, app["id"])["placement"]
    assert seen["status"] == "deciding" and seen["choice"] is None and seen["round"] == 1
    plans = {p["objective"]: p for p in seen["plans"]}
    assert set(plans) == {"cost", "performance", "balance"}
    assert plans["cost"]["assignments"] == [{"request_id": "item1", "pool_id": ids["cheap"], "copies": 2}]
    assert plans["performance"]["assignments"] == [{"request_id": "item1", "pool_id": ids["fast"], "copies": 2}]
    assert all(p["placed"] == 2 and p["explanation"] for p in plans.values())
    assert task(shop, "alpha-user", app["id"], "pick_plan")["lane"] is None  # the applicant's own task

    picked = complete(shop, "alpha-user", app["id"], "pick_plan",
                      {"placement_objective": "performance", "placement_action": "choose"})
    assert picked.status_code == 200, picked.get_json()
    assert detail(shop, app["id"])["placement"]["status"] == "confirming"
    deciding = detail(shop, app["id"], "operator")["placement"]  # the operator sees the figures while deciding
    assert deciding["objective"] == "performance" and len(deciding["plans"]) == 3
    confirm = task(shop, "operator", app["id"], "confirm_plan")
    assert confirm["lane"] == "platform_operator"
    done = complete(shop, "operator", app["id"], "confirm_plan", {"placement_review": "approve"})
    assert done.status_code == 200, done.get_json()

    after = detail(shop, app["id"])
    assert after["status"] == "ordered" and after["order"] is not None
    choice = after["placement"]["choice"]
    assert after["placement"]["status"] == "chosen" and after["placement"]["plans"] is None
    assert choice == {"objective": "performance", "weights": None, "placed": 2,
                      "assignments": [{"request_id": "item1", "pool_id": ids["fast"], "copies": 2}],
                      "cost": plans["performance"]["cost"], "performance": plans["performance"]["performance"],
                      "max_util": plans["performance"]["max_util"]}
    data = instance_data(shop, app["id"])
    assert data["placement_choice"] == choice
    assert "assignments" not in str(data["placement_plans"])  # only the figures travel in the process


def test_custom_weights_are_solved_again_before_they_can_be_picked(shop: Any) -> None:
    ids = pools(shop)
    app = approved(shop)
    weights = {"cost": 0, "performance": 1, "balance": 0}
    resolved = complete(shop, "alpha-user", app["id"], "pick_plan",
                        {"placement_objective": "custom", "placement_weights": weights, "placement_action": "choose"})
    assert resolved.status_code == 200, resolved.get_json()
    seen = detail(shop, app["id"])["placement"]
    assert seen["round"] == 2 and seen["status"] == "deciding" and seen["weights"] == weights
    custom = next(p for p in seen["plans"] if p["objective"] == "custom")
    assert custom["assignments"] == [{"request_id": "item1", "pool_id": ids["fast"], "copies": 2}]

    assert complete(shop, "alpha-user", app["id"], "pick_plan", {
        "placement_objective": "custom", "placement_weights": weights, "placement_action": "choose"}).status_code == 200
    picked = detail(shop, app["id"])["placement"]
    assert (picked["status"], picked["objective"], picked["round"]) == ("confirming", "custom", 2)  # not solved again
    assert complete(shop, "operator", app["id"], "confirm_plan", {"placement_review": "approve"}).status_code == 200
    choice = detail(shop, app["id"])["placement"]["choice"]
    assert choice["objective"] == "custom" and choice["weights"] == weights


def test_resolve_with_new_weights_loops_back_to_the_applicant(shop: Any) -> None:
    pools(shop)
    app = approved(shop)
    again = complete(shop, "alpha-user", app["id"], "pick_plan", {
        "placement_objective": "cost", "placement_weights": {"cost": 1, "performance": 1, "balance": 1},
        "placement_action": "resolve"})
    assert again.status_code == 200, again.get_json()
    seen = detail(shop, app["id"])["placement"]
    assert seen["round"] == 2 and [p["objective"] for p in seen["plans"]] == ["cost", "performance", "balance",
                                                                               "custom"]
    assert task(shop, "alpha-user", app["id"], "pick_plan")


def test_custom_without_weights_is_not_a_plan_and_goes_back_to_the_applicant(shop: Any) -> None:
    pools(shop)
    app = approved(shop)
    resp = complete(shop, "alpha-user", app["id"], "pick_plan",
                    {"placement_objective": "custom", "placement_action": "choose"})
    assert resp.status_code == 200, resp.get_json()
    assert detail(shop, app["id"])["placement"]["status"] == "deciding"
    assert task(shop, "alpha-user", app["id"], "pick_plan")  # the NO_SUCH_PLAN error boundary, not an incident


def test_weights_that_are_all_zero_are_refused_by_the_form_and_change_nothing(shop: Any) -> None:
    pools(shop)
    app = approved(shop)
    resp = complete(shop, "alpha-user", app["id"], "pick_plan", {
        "placement_objective": "custom", "placement_weights": {"cost": 0, "performance": 0, "balance": 0},
        "placement_action": "resolve"})
    assert resp.status_code == 422, resp.get_json()
    assert any(e["path"].startswith("$.placement_weights") for e in resp.get_json()["errors"])
    forged = complete(shop, "alpha-user", app["id"], "pick_plan", {
        "placement_objective": "cost", "placement_action": "choose", "placement_choice": {"objective": "cost"}})
    assert forged.status_code == 422, forged.get_json()  # no process variable but the form's own
    assert detail(shop, app["id"])["placement"]["round"] == 1


def test_the_operator_returns_the_plan_and_the_applicant_chooses_again(shop: Any) -> None:
    ids = pools(shop)
    app = approved(shop)
    assert complete(shop, "alpha-user", app["id"], "pick_plan",
                    {"placement_objective": "performance", "placement_action": "choose"}).status_code == 200
    back = complete(shop, "operator", app["id"], "confirm_plan",
                    {"placement_review": "return", "placement_comment": "the fast pool is reserved: take cost"})
    assert back.status_code == 200, back.get_json()
    seen = detail(shop, app["id"])
    assert seen["status"] == "approved" and seen["order"] is None
    assert seen["placement"]["status"] == "deciding" and seen["placement"]["comment"].startswith("the fast pool")
    assert complete(shop, "alpha-user", app["id"], "pick_plan",
                    {"placement_objective": "cost", "placement_action": "choose"}).status_code == 200
    assert complete(shop, "operator", app["id"], "confirm_plan", {"placement_review": "approve"}).status_code == 200
    after = detail(shop, app["id"])
    assert after["status"] == "ordered"
    assert after["placement"]["choice"]["assignments"] == [{"request_id": "item1", "pool_id": ids["cheap"],
                                                            "copies": 2}]


def test_without_pools_the_step_is_skipped_and_the_order_gets_no_choice(shop: Any) -> None:
    app = approved(shop)
    assert app["status"] == "ordered"
    assert detail(shop, app["id"])["placement"] is None
    data = instance_data(shop, app["id"])
    assert data["placement_choice"] is None and data["placement_plans"]["skipped"] is True


def test_pools_that_can_take_none_of_the_items_skip_the_step(shop: Any) -> None:
    resp = shop.client.post(f"{V1}/resource-pools", headers=shop.headers("operator"), json={
        "name": "cpu-only", "region": "cn-north-1", "dimensions": {
            "vcpu": {"total": "256", "unit_cost": "0.01"}, "memory_gib": {"total": "2048", "unit_cost": "0.001"},
            "disk_gib": {"total": "10000", "unit_cost": "0"}}})
    assert resp.status_code == 201, resp.get_json()
    app = approved(shop)
    assert app["status"] == "ordered" and detail(shop, app["id"])["placement"] is None
    assert instance_data(shop, app["id"])["placement_plans"]["skipped"] is True


def test_another_tenant_cannot_read_the_plans_nor_work_the_tasks(shop: Any) -> None:
    pools(shop)
    app = approved(shop)
    assert shop.client.get(f"{V1}/applications/{app['id']}", headers=shop.headers("beta-user")).status_code == 404
    assert shop.client.get(f"{V1}/applications/{app['id']}", headers=shop.headers("beta-admin")).status_code == 404
    mine = task(shop, "alpha-user", app["id"], "pick_plan")
    theirs = shop.client.post(f"{V1}/tasks/{mine['id']}/complete", headers=shop.headers("beta-user"),
                              json={"data": {"placement_objective": "cost", "placement_action": "choose"}})
    assert theirs.status_code == 404, theirs.get_json()
    assert detail(shop, app["id"])["placement"]["status"] == "deciding"


def _port_call(shop: Any, scope: InstanceScope, method: str, *args: Any) -> Any:
    with shop.engine.db.write() as s, running_for(scope):
        s.execute(select(1))  # the transaction begins, and with it the ports
        return getattr(tasks.ports.current().placement, method)(*args)


def test_the_port_stores_plans_only_for_the_application_its_instance_runs_for(shop: Any) -> None:
    pools(shop)
    app = approved(shop)
    alpha, beta = shop.tenant["alpha"], shop.tenant["beta"]
    plans = [{"objective": "cost", "assignments": [], "placed": 0}]
    hostile = [InstanceScope(beta, "application", "beta-user", app["id"], internal=True),  # another tenant
               InstanceScope(alpha, "mine", "alpha-user", app["id"], internal=False),  # started by a request
               InstanceScope(alpha, "application", "alpha-user", "another-id", internal=True)]
    for scope in hostile:
        for method, args in (("record_plans", (app["id"], plans)), ("pick", (app["id"], "cost")),
                             ("confirm", (app["id"], "approve"))):
            with pytest.raises(Refused) as err:
                _port_call(shop, scope, method, *args)
            assert err.value.code == "UNKNOWN_APPLICATION", (scope, method)
    with shop.engine.db.read() as s:
        [row] = s.scalars(select(PlacementChoice)).all()
    assert row.tenant_id == alpha and row.round == 1 and row.status == "deciding"


def test_a_confirmed_choice_is_final(shop: Any) -> None:
    pools(shop)
    app = approved(shop)
    own = InstanceScope(shop.tenant["alpha"], "application", "alpha-user", app["id"], internal=True)
    assert complete(shop, "alpha-user", app["id"], "pick_plan",
                    {"placement_objective": "cost", "placement_action": "choose"}).status_code == 200
    assert complete(shop, "operator", app["id"], "confirm_plan", {"placement_review": "approve"}).status_code == 200
    for method, args, code in (("confirm", (app["id"], "approve"), "NOT_CONFIRMING"),
                               ("pick", (app["id"], "performance"), "NOT_DECIDING"),
                               ("record_plans", (app["id"], []), "PLACEMENT_CHOSEN")):
        with pytest.raises(Refused) as err:
            _port_call(shop, own, method, *args)
        assert err.value.code == code
    assert detail(shop, app["id"])["placement"]["choice"]["objective"] == "cost"


def test_plans_over_a_thousand_pools_stay_out_of_the_saved_process_state(shop: Any, monkeypatch: Any) -> None:
    many = [pool(f"p{i:04d}", gpu={"A100": 8}, cost={"gpu": {"A100": 1 + i / 1000}}) for i in range(1000)]
    monkeypatch.setattr(placement_ports.Placement, "pools", lambda self: many)
    app = approved(shop)
    with shop.engine.db.read() as s:
        row = s.scalars(select(ProcessInstance).where(ProcessInstance.business_key == app["id"],
                                                      ProcessInstance.process_key == "application")).one()
        stored = s.scalars(select(PlacementChoice)).one()
        state = len(row.state_json)
    assert {p["objective"] for p in stored.plans} == {"cost", "performance", "balance"}
    kept = instance_data(shop, app["id"], "pick_plan")["placement_plans"]
    assert len(json.dumps(kept)) < 1500, kept  # the figures of three plans, whatever the pools
    assert "p0000" not in row.state_json and state < 200_000
