"""Explanations: the text for each reason a copy is left out and the change that would let it in,
the binding constraints of a plan, and the runner-up and why it lost."""

from __future__ import annotations

from engine.domains.placement.instance import parse
from engine.domains.placement.solve import solve, solve_plans
from tests.domains.placement.helpers import pool, request


def unplaced(requests, pools, quota=None, objective="cost"):
    data = {"requests": requests, "pools": pools, **({"quota": quota} if quota else {})}
    return solve(parse(data), objective).explanation["unplaced"]


def test_no_pool_in_the_region():
    [u] = unplaced([request("x", region="eu-1", count=2)], [pool("p", region="cn-1")])
    assert (u["reason"], u["copies"]) == ("region", 2)
    assert u["text"] == "no pool in region eu-1" and u["fix"] == "a pool in eu-1"


def test_no_pool_with_the_accelerator_in_the_region_says_how_many_to_add():
    [u] = unplaced([request("train", gpu_model="H100", gpu_count=1, region="cn-north-1", count=2)],
                   [pool("a", region="cn-north-1", gpu={"A100": 8}), pool("b", region="us-1", gpu={"H100": 8})])
    assert u["reason"] == "accelerator"
    assert u["text"] == "no pool with H100 in cn-north-1"
    assert u["fix"] == "+2 H100 in cn-north-1"


def test_a_copy_larger_than_any_pool_even_empty():
    [u] = unplaced([request("huge", vcpu=128, mem=16)], [pool("p", vcpu=64)])
    assert u["reason"] == "size"
    assert u["text"] == "no pool with CPUs in any region could hold one copy even empty"
    assert u["fix"] == "+64 vCPU in r1 (pool p)"


def test_capacity_taken_by_the_plan_names_the_pool_and_what_it_lacks():
    [u] = unplaced([request("train", gpu_model="H100", gpu_count=4, region="cn-north-1", count=3)],
                   [pool("gpu-a", region="cn-north-1", vcpu=128, mem=1024, gpu={"H100": 10})])
    assert (u["reason"], u["copies"]) == ("capacity", 1)
    assert u["text"] == ("the 1 pool(s) with H100 in cn-north-1 are full after this plan: pool gpu-a has 2 H100 "
                         "left")
    assert u["fix"] == "+2 H100 in cn-north-1 (pool gpu-a)"


def test_quota_names_the_dimension_and_how_much_more_quota_it_needs():
    [u] = unplaced([request("web", vcpu=8, count=4)], [pool("p")], quota={"vcpu": 20})
    assert (u["reason"], u["copies"], u["dimension"]) == ("quota", 2, "vCPU")
    assert u["text"] == "the quota has 4 vCPU left, a copy needs 8"
    assert u["fix"] == "+12 vCPU quota"


def test_anti_affinity_names_the_pools_that_already_hold_the_group():
    [u] = unplaced([request("db", count=3, group="ha")], [pool("p1"), pool("p2")])
    assert u["reason"] == "anti_affinity"
    assert u["text"] == "anti-affinity group ha already has a copy in every pool with room (p1, p2)"
    assert u["fix"] == "1 more pool(s) with room in any region"


def test_binding_constraints_name_the_full_pool_dimension_and_the_tight_quota():
    instance = parse({"requests": [request("train", vcpu=32, gpu_model="H100", gpu_count=4, count=3),
                                   request("web", vcpu=8, count=3)],
                      "pools": [pool("gpu-a", vcpu=128, mem=1024, gpu={"H100": 8})], "quota": {"vcpu": 60}})
    binding = solve(instance, "cost").explanation["binding"]
    kinds = {(b["kind"], b.get("pool"), b["dimension"]) for b in binding}
    assert ("quota", None, "vCPU") in kinds  # 1 train (32) + 3 web (24): 4 vCPU of the quota left
    quota = next(b for b in binding if b["kind"] == "quota")
    assert quota["text"] == "the quota has 4 vCPU left, less than the smallest copy needs (8)"


def test_the_runner_up_is_the_best_other_plan_and_says_why_it_lost():
    pools = [pool("fast", gpu={"A100": 8}, perf_gpu={"A100": 100}, cost={"gpu": {"A100": 4.0}}),
             pool("cheap", gpu={"A100": 8}, perf_gpu={"A100": 50}, cost={"gpu": {"A100": 1.0}})]
    plans = {p.objective: p for p in solve_plans(parse({"requests": [request("t", gpu_model="A100", gpu_count=8)],
                                                        "pools": pools}))}
    runner = plans["cost"].explanation["runner_up"]
    assert runner["objective"] in ("performance", "balance")
    assert plans["cost"].cost == plans["cost"].cost.quantize(plans["cost"].cost)  # exact Decimal
    perf_runner = plans["performance"].explanation["runner_up"]
    assert perf_runner["lost_because"].startswith("its performance is 400 lower (400 vs 800)")
    lost = plans["cost"].explanation["runner_up"]["lost_because"]
    if runner["objective"] == "performance":
        assert lost == "it costs 24/h more (+280.4%); it would buy performance 400 more"


def test_the_summary_says_what_was_placed_and_whether_it_is_proved():
    plan = solve(parse({"requests": [request("a", count=2)], "pools": [pool("p")]}), "cost")
    assert plan.explanation["summary"].startswith("cost-first: placed 2 of 2 copies (the most that fit)")
    assert "proved optimal" in plan.explanation["summary"]
