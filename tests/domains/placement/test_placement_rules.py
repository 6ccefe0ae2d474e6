"""The placement rules on instances small enough to check by hand: placing first, then the
objective's criterion, then cost; a copy whole in one pool, in its region, with its accelerator,
within capacity; anti-affinity; untouched pools in balance; custom weights; partial inputs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.domains.placement.instance import parse
from engine.domains.placement.solve import solve, solve_plans
from tests.domains.placement.helpers import pool, request, where


def plan_for(objective, requests, pools, **kw):
    return solve(parse({"requests": requests, "pools": pools}), objective, **kw)


def test_cost_first_takes_the_cheapest_pool_that_fits():
    cheap = pool("cheap", cost={"vcpu": 0.01})
    dear = pool("dear", cost={"vcpu": 0.10})
    plan = plan_for("cost", [request("web", count=3)], [dear, cheap])
    assert where(plan) == {"web": {"cheap": 3}}
    # 3 copies x (4 vCPU x 0.01 + 16 GiB x 0.005) = 0.36 per hour, counted exactly
    assert plan.cost == Decimal("0.3600") and plan.status == "optimal"


def test_placing_more_copies_comes_before_a_lower_cost():
    # the cheap plan would put "big" in "cheap" and leave "pinned" (which only fits there) out;
    # the rules place both, although that costs more
    cheap = pool("cheap", region="r1", vcpu=16, cost={"vcpu": 0.01})
    dear = pool("dear", region="r2", vcpu=16, cost={"vcpu": 1.0})
    plan = plan_for("cost", [request("big", vcpu=16, mem=16), request("pinned", vcpu=16, mem=16, region="r1")],
                    [cheap, dear])
    assert plan.placed == 2
    assert where(plan) == {"big": {"dear": 1}, "pinned": {"cheap": 1}}


def test_a_copy_goes_only_to_a_pool_in_its_region():
    plan = plan_for("cost", [request("eu", region="eu-1", count=2)],
                    [pool("cn", region="cn-1", cost={"vcpu": 0.001}), pool("eu", region="eu-1", cost={"vcpu": 1.0})])
    assert where(plan) == {"eu": {"eu": 2}}


def test_a_copy_goes_only_to_a_pool_with_its_accelerator_model():
    pools = [pool("a100", gpu={"A100": 8}, cost={"gpu": {"A100": 0.5}}),
             pool("h100", gpu={"H100": 8}, cost={"gpu": {"H100": 9.0}})]
    plan = plan_for("cost", [request("train", gpu_model="H100", gpu_count=4, count=2)], pools)
    assert where(plan) == {"train": {"h100": 2}}


def test_a_copy_goes_whole_to_one_pool_within_capacity():
    # 3 copies of 4 GPUs over two pools with 6 GPUs each: one copy per pool fits, the third cannot
    # be split over the two 2-GPU remainders
    pools = [pool("p1", gpu={"H100": 6}), pool("p2", gpu={"H100": 6})]
    plan = plan_for("cost", [request("train", gpu_model="H100", gpu_count=4, count=3)], pools)
    assert plan.placed == 2 and where(plan) == {"train": {"p1": 1, "p2": 1}}


def test_anti_affinity_puts_the_copies_of_a_group_in_different_pools():
    pools = [pool("p1", cost={"vcpu": 0.01}), pool("p2", cost={"vcpu": 0.02}), pool("p3", cost={"vcpu": 0.03})]
    plan = plan_for("cost", [request("db", count=2, group="ha"), request("db-witness", group="ha")], pools)
    used = [p for placed in where(plan).values() for p in placed]
    assert plan.placed == 3 and sorted(used) == ["p1", "p2", "p3"]


def test_anti_affinity_leaves_out_what_has_no_pool_of_its_own():
    plan = plan_for("cost", [request("db", count=3, group="ha")], [pool("p1"), pool("p2")])
    assert plan.placed == 2
    assert plan.explanation["unplaced"][0]["reason"] == "anti_affinity"


def test_performance_first_takes_the_faster_pool_then_cost_breaks_ties():
    pools = [pool("fast-dear", gpu={"A100": 8}, perf_gpu={"A100": 80}, cost={"gpu": {"A100": 5.0}}),
             pool("fast-cheap", gpu={"A100": 8}, perf_gpu={"A100": 80}, cost={"gpu": {"A100": 2.0}}),
             pool("slow", gpu={"A100": 8}, perf_gpu={"A100": 40}, cost={"gpu": {"A100": 0.5}})]
    plan = plan_for("performance", [request("train", gpu_model="A100", gpu_count=8)], pools)
    assert where(plan) == {"train": {"fast-cheap": 1}} and plan.performance == Decimal(640)


def test_performance_of_a_cpu_only_copy_is_its_vcpus_times_the_pool_cpu_score():
    plan = plan_for("performance", [request("web", vcpu=8, mem=8, count=2)],
                    [pool("old", perf_cpu=0.5), pool("new", perf_cpu=1.5)])
    assert where(plan) == {"web": {"new": 2}} and plan.performance == Decimal("24.0000")


def test_balance_first_spreads_the_load_and_counts_untouched_pools_as_they_are():
    # a: 50% used vCPU; b: empty; c: 70% used and not eligible (other region) but still counted
    pools = [pool("a", vcpu=100, used={"vcpu": 0.5}), pool("b", vcpu=100), pool("c", region="r9", vcpu=100,
                                                                                  used={"vcpu": 0.7})]
    plan = plan_for("balance", [request("web", vcpu=10, mem=1, count=6, region="r1")], pools)
    # best spread: a 50% -> 60% (1 copy), b 0% -> 50% (5 copies); c stays at 70% and sets the max
    assert plan.max_util == Decimal("0.7000")
    assert plan.explanation["binding"][0]["kind"] == "max_util" and plan.explanation["binding"][0]["pool"] == "c"


def test_balance_first_then_cost_breaks_ties():
    pools = [pool("a", vcpu=100, cost={"vcpu": 0.5}), pool("b", vcpu=100, cost={"vcpu": 0.1}),
             pool("busy", region="r9", vcpu=100, used={"vcpu": 0.9})]
    # the busy pool sets the max (90%) whatever happens: every spread ties, so the cheapest wins
    plan = plan_for("balance", [request("web", vcpu=10, mem=1, count=4, region="r1")], pools)
    assert plan.max_util == Decimal("0.9000") and where(plan) == {"web": {"b": 4}}


def test_balance_first_lowers_the_highest_utilisation_where_cost_would_not():
    pools = [pool("cheap", vcpu=100, cost={"vcpu": 0.01}), pool("dear", vcpu=100, cost={"vcpu": 0.05})]
    reqs = [request("web", vcpu=10, mem=1, count=8)]
    cost_plan = plan_for("cost", reqs, pools)
    balance_plan = plan_for("balance", reqs, pools)
    assert cost_plan.max_util == Decimal("0.8000") and balance_plan.max_util == Decimal("0.4000")
    assert balance_plan.cost > cost_plan.cost


def test_custom_weights_choose_between_cost_and_performance():
    pools = [pool("fast", gpu={"A100": 8}, perf_gpu={"A100": 100}, cost={"gpu": {"A100": 4.0}}),
             pool("cheap", gpu={"A100": 8}, perf_gpu={"A100": 50}, cost={"gpu": {"A100": 1.0}})]
    reqs = [request("train", gpu_model="A100", gpu_count=8)]
    from engine.domains.placement.model import Weights

    assert where(plan_for("custom", reqs, pools, weights=Weights(cost=1, performance=0, balance=0))) == {
        "train": {"cheap": 1}}
    assert where(plan_for("custom", reqs, pools, weights=Weights(cost=0, performance=1, balance=0))) == {
        "train": {"fast": 1}}


def test_an_input_nothing_can_place_gets_an_empty_plan_and_reasons_not_an_exception():
    plans = solve_plans(parse({"requests": [request("x", gpu_model="TPU", gpu_count=1, region="mars")],
                               "pools": [pool("p1")]}))
    assert [p.placed for p in plans] == [0, 0, 0]
    assert all(p.explanation["unplaced"][0]["reason"] == "region" for p in plans)


@pytest.mark.parametrize("objective", ["cost", "performance", "balance"])
def test_no_pools_and_no_requests_are_valid_inputs_with_a_proved_empty_plan(objective):
    for data in ({"requests": [], "pools": [pool("p")]}, {"requests": [request("a")], "pools": []}):
        plan = solve(parse(data), objective)
        assert (plan.placed, plan.status) == (0, "optimal")


def test_a_partly_placeable_input_places_what_fits_and_explains_the_rest():
    plan = plan_for("cost", [request("ok", count=2), request("h100", gpu_model="H100", gpu_count=1)], [pool("p1")])
    assert plan.placed == 2 and plan.requested == 3
    assert [(u["request_id"], u["reason"]) for u in plan.explanation["unplaced"]] == [("h100", "accelerator")]


def test_the_quota_limits_all_pools_together():
    instance = parse({"requests": [request("web", vcpu=8, count=5)], "pools": [pool("p1"), pool("p2")],
                      "quota": {"vcpu": 24}})
    plan = solve(instance, "cost")
    assert plan.placed == 3 and plan.explanation["unplaced"][0]["reason"] == "quota"


def test_identical_requests_fold_into_one_shape_and_get_their_copies_back_by_id():
    plan = plan_for("cost", [request("a", count=2), request("b", count=3)], [pool("p1", vcpu=12), pool("p2")])
    assert plan.explanation["shapes"] == 1
    placed = {r: sum(c.values()) for r, c in where(plan).items()}
    assert placed == {"a": 2, "b": 3}


@pytest.mark.parametrize("objective", ["cost", "performance", "balance"])
def test_every_plan_respects_capacity_region_and_model(objective):
    from tests.bench.placement_instances import generate

    instance = parse(generate(120, 12, seed=3))
    plan = solve(instance, objective)
    pools = {p.id: p for p in instance.pools}
    reqs = {r.id: r for r in instance.requests}
    used: dict[tuple[str, str], Decimal] = {}
    for a in plan.assignments:
        r, p = reqs[a.request_id], pools[a.pool_id]
        assert r.region in (None, p.region)
        assert r.gpu_model is None or p.total.gpu.get(r.gpu_model, 0) > 0
        for dim in p.total.dims():
            used[(p.id, dim)] = used.get((p.id, dim), Decimal(0)) + r.need(dim) * a.copies
    for (pid, dim), amount in used.items():
        assert amount <= pools[pid].capacity.get(dim)
    assert sum(a.copies for a in plan.assignments if a.request_id in reqs) == plan.placed
    for r in instance.requests:
        assert sum(a.copies for a in plan.assignments if a.request_id == r.id) <= r.count


def test_the_greedy_trap_cheap_pool_that_pinned_requests_need():
    from tests.bench.placement_greedy import greedy

    # unpinned copies come first (largest first, then input order) and the cheap trap pool is the
    # cheapest for them; greedy fills it and pays the dear pool for the pinned copies
    pools = [pool("trap-cheap", region="trap", gpu={"A100": 4}, cost={"gpu": {"A100": 1.0}}),
             pool("trap-dear", region="trap", gpu={"A100": 8}, cost={"gpu": {"A100": 6.0}}),
             pool("elsewhere", region="other", gpu={"A100": 8}, cost={"gpu": {"A100": 1.5}})]
    reqs = [request("free", gpu_model="A100", gpu_count=2, count=2),
            request("pinned", gpu_model="A100", gpu_count=2, count=2, region="trap")]
    instance = parse({"requests": reqs, "pools": pools})
    plan = solve(instance, "cost")
    baseline = greedy(instance, "cost")
    assert where(plan) == {"free": {"elsewhere": 2}, "pinned": {"trap-cheap": 2}}
    assert baseline["placed"] == plan.placed == 4
    assert baseline["cost"] > plan.cost * Decimal("1.2")  # greedy pays 20%+ more
