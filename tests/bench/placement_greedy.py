"""The greedy best-fit baseline the MILP is measured against.

Copies are taken largest first (GPUs, then vCPU, then memory; input order breaks ties), and each
goes to the pool that is best for the objective *right now* among those that can take it (its
region, its accelerator model, room left, its anti-affinity group not there yet): the cheapest for
cost, the fastest for performance, the one whose highest utilisation after taking it is lowest
for balance; ties go to the tightest fit (least room left after), the classic best fit. It never
revisits a choice, which is exactly what the trap instances exploit.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from engine.domains.placement.instance import BASE_DIMS, Instance, Pool, Request
from engine.domains.placement.plan import Assignment, measure
from engine.domains.placement.shapes import copy_cost, copy_perf, has_model, in_region


def _dims(q: Request) -> list[str]:
    return [*BASE_DIMS, *([f"gpu:{q.gpu_model}"] if q.gpu_model else [])]


def greedy(instance: Instance, objective: str) -> dict[str, object]:
    """Plan ``objective`` greedily; returns placed, cost, performance, max_util and assignments."""
    left = {(p.id, d): p.capacity.get(d) for p in instance.pools for d in p.total.dims()}
    quota = dict(instance.quota) if instance.quota is not None else None
    used_util: dict[tuple[str, str], Decimal] = {(p.id, d): p.utilisation.get(d) for p in instance.pools
                                                 for d in p.util_dims()}
    groups: dict[str, set[str]] = defaultdict(set)
    placed: dict[tuple[str, str], int] = defaultdict(int)
    copies = [q for q in sorted(instance.requests, key=lambda r: (-r.gpu_count, -r.vcpu, -r.mem_gib))
              for _ in range(q.count)]

    def score(q: Request, p: Pool) -> tuple[Decimal, Decimal]:
        room = sum((left[(p.id, d)] - q.need(d)) / max(p.total.get(d), Decimal(1)) for d in _dims(q))
        if objective == "cost":
            return copy_cost(q, p), room
        if objective == "performance":
            return -copy_perf(q, p), room
        after = max(used_util[(p.id, d)] + q.need(d) / p.total.get(d) for d in p.util_dims())
        return after, room

    for q in copies:
        fits = [p for p in instance.pools if in_region(q, p) and has_model(q, p)
                and all(left[(p.id, d)] >= q.need(d) for d in _dims(q))
                and not (q.anti_affinity and p.id in groups[q.anti_affinity])
                and (quota is None or all(a >= q.need(d) for d, a in quota.items()))]
        if not fits:
            continue
        best = min(fits, key=lambda p: score(q, p))
        for d in _dims(q):
            left[(best.id, d)] -= q.need(d)
            if quota is not None and d in quota:
                quota[d] -= q.need(d)
            if (best.id, d) in used_util:
                used_util[(best.id, d)] += q.need(d) / best.total.get(d)
        if q.anti_affinity:
            groups[q.anti_affinity].add(best.id)
        placed[(q.id, best.id)] += 1
    assignments = [Assignment(r, p, n) for (r, p), n in placed.items()]
    cost, perf, util = measure(instance, assignments)
    return {"placed": sum(placed.values()), "cost": cost, "performance": perf, "max_util": util,
            "assignments": assignments}
