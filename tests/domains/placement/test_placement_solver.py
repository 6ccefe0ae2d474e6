"""Solving honestly: the status comes from the solver's proof, not PuLP's LpStatus; CBC takes over
when HiGHS is missing or breaks; every solve gets its time limit and the plan says when the limit
stopped it."""

from __future__ import annotations

import pulp
import pytest

from engine.domains.placement import milp, search
from engine.domains.placement.instance import parse
from engine.domains.placement.solve import Options, solve, solve_plans
from tests.bench.placement_instances import generate
from tests.domains.placement.helpers import pool, request

SMALL = {"requests": [request("a", count=3), request("g", gpu_model="A100", gpu_count=2, count=2)],
         "pools": [pool("p1", gpu={"A100": 4}), pool("p2", cost={"vcpu": 0.02})]}


def test_cbc_takes_over_when_highs_is_missing(monkeypatch):
    monkeypatch.setattr(milp, "highs_available", lambda: False)
    plans = solve_plans(parse(SMALL))
    assert {p.solver for p in plans} == {"cbc"}
    assert [p.placed for p in plans] == [5, 5, 5] and all(p.status == "optimal" for p in plans)


def test_cbc_takes_over_when_highs_breaks(monkeypatch):
    def broken(*_a, **_k):
        raise milp.SolverFailed("HiGHS: Solve error")

    monkeypatch.setattr(milp, "_solve_highs", broken)
    plan = solve(parse(SMALL), "cost")
    assert plan.solver == "cbc" and plan.placed == 5 and plan.status == "optimal"


def test_cbc_and_highs_find_the_same_plan():
    highs = solve(parse(SMALL), "cost", options=Options(solver="highs"))
    cbc = solve(parse(SMALL), "cost", options=Options(solver="cbc"))
    assert (highs.placed, highs.cost) == (cbc.placed, cbc.cost)


def test_a_solve_stopped_by_the_limit_is_not_called_optimal_although_lpstatus_says_so():
    # the trap in docs/environment.md: PuLP's LpStatus reads "Optimal" when HiGHS hit its time limit
    big = parse(generate(400, 30, seed=5))
    from engine.domains.placement.model import Model
    from engine.domains.placement.shapes import aggregate, pairs

    shapes = aggregate(big.requests)
    model = Model(big, shapes, pairs(big, shapes))
    model.set_objective("balance")
    out = milp.solve(model.problem, limit_s=0.01, gap=0.0, solver="highs")
    if out.status != "optimal":  # the limit struck (it does on any machine at 10 ms)
        assert pulp.LpStatus[model.problem.status] in ("Optimal", "Not Solved")
        assert out.status in ("time_limit", "no_solution")
        if out.status == "time_limit":
            assert out.gap is None or out.gap > 0


@pytest.mark.parametrize("limit", [0.05, 0.5])
def test_every_stage_gets_a_limit_within_the_budget_and_the_plan_says_if_it_stopped(limit):
    instance = parse(generate(300, 20, seed=2))
    plans = solve_plans(instance, options=Options(time_limit_s=limit))
    stages = [s for p in plans for s in p.stages[1:]] + [plans[0].stages[0]]
    assert all(0 < s["limit_s"] <= limit + 1e-6 for s in stages)
    for p in plans:
        assert p.placed <= p.requested and p.status in ("optimal", "time_limit")
        proved = [s["status"] for s in p.stages[:2]]
        assert (p.status == "optimal") == (proved == ["optimal", "optimal"])
        if p.status != "optimal":
            assert "time limit" in p.explanation["summary"]


def test_the_lp_bound_proves_a_plan_found_by_the_dive():
    plan = solve(parse(generate(200, 20, seed=1)), "cost")
    stage = plan.stages[1]
    assert stage["status"] == "optimal" and stage["bound"] <= stage["value"]
    assert stage["gap"] <= milp.DEFAULT_GAP


def test_balance_threshold_search_proves_its_bound(monkeypatch):
    seen = []
    real = search._thresholds

    def spy(*args, **kwargs):
        bound = real(*args, **kwargs)
        seen.append(bound)
        return bound

    monkeypatch.setattr(search, "_thresholds", spy)
    plan = solve(parse(generate(200, 20, seed=4)), "balance")
    assert float(plan.bound) <= float(plan.max_util) + 1e-6
    assert all(b <= float(plan.max_util) + 1e-6 for b in seen)
