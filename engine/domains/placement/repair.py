"""Round an LP plan down and place the copies it split, greedily: an incumbent in milliseconds.

The LP relaxation of a stage is close to its integer optimum but splits copies across pools.
Rounding every ``x`` down keeps within every capacity, quota and anti-affinity row; the copies
lost to rounding are then placed one by one, each in the pool best for the
stage's objective among those that still have room (the objective's own coefficient; for balance,
the lowest utilisation after), those with the fewest pools to go to first; under a held balance
level no pool may pass it. The result is offered as a plan only if it meets every row of the
model, level rows included (``Model.feasible``), so a repair that cannot place enough copies, or
breaks an earlier stage's level, is simply not used. Pure Python over the aggregated pairs: it
costs milliseconds where a solver's heuristics cost seconds on a loaded machine.
"""

from __future__ import annotations

import math
from collections import defaultdict

from engine.domains.placement.model import Model, Weights


def repair(model: Model, lp_values: list[float], criterion: str, weights: Weights | None) -> list[int] | None:
    """A whole-copy plan near ``lp_values`` that meets every row, or None: rounded down, then (if
    the split copies do not fit in what rounding left) rounded down one more wherever the LP split
    a copy, which frees room in exactly the pools the LP had filled."""
    for slack in (0, 1, 3):
        found = _attempt(model, lp_values, criterion, weights, slack)
        if found is not None:
            return found
    return None


def _attempt(model: Model, lp_values: list[float], criterion: str, weights: Weights | None, slack: int
             ) -> list[int] | None:
    pools, shapes, pairs = model.instance.pools, model.shapes, model.pairs
    x = [max(0, math.floor(v + 1e-6) - (slack if v - math.floor(v + 1e-6) > 1e-6 else 0)) for v in lp_values]
    x = [min(n, p.upper) for n, p in zip(x, pairs, strict=True)]
    left: dict[tuple[int, str], float] = {}
    for j, p in enumerate(pools):
        for dim in p.capacity.dims():
            left[(j, dim)] = float(p.capacity.get(dim))
    quota = {d: float(a) for d, a in (model.instance.quota or {}).items()}
    group_at: dict[tuple[str, int], int] = defaultdict(int)
    placed_of: dict[int, int] = defaultdict(int)
    util_at: dict[tuple[int, str], float] = {(j, d): float(p.utilisation.get(d)) for j, p in enumerate(pools)
                                             for d in p.util_dims()}

    def take(k: int, n: int) -> None:
        pair = pairs[k]
        q = shapes[pair.shape].proto
        for dim in [*(d for d in ("vcpu", "mem_gib", "storage_gib") if q.need(d)),
                    *([f"gpu:{q.gpu_model}"] if q.gpu_model else [])]:
            amount = float(q.need(dim)) * n
            left[(pair.pool, dim)] = left.get((pair.pool, dim), 0.0) - amount
            if dim in quota:
                quota[dim] -= amount
            if (pair.pool, dim) in util_at:
                util_at[(pair.pool, dim)] += amount / float(pools[pair.pool].total.get(dim))
        if q.anti_affinity:
            group_at[(q.anti_affinity, pair.pool)] += n
        placed_of[pair.shape] += n

    for k, n in enumerate(x):
        if n:
            take(k, n)
    coeff = model.objective(criterion, weights, tie=True)
    by_shape: dict[int, list[int]] = defaultdict(list)
    for k, pair in enumerate(pairs):
        by_shape[pair.shape].append(k)

    def room(k: int) -> bool:
        pair = pairs[k]
        q = shapes[pair.shape].proto
        if x[k] >= pair.upper or (q.anti_affinity and group_at[(q.anti_affinity, pair.pool)] >= 1):
            return False
        dims = [*(d for d in ("vcpu", "mem_gib", "storage_gib") if q.need(d)),
                *([f"gpu:{q.gpu_model}"] if q.gpu_model else [])]
        pool = pools[pair.pool]
        return all(left.get((pair.pool, d), 0.0) >= float(q.need(d)) - 1e-9 for d in dims) and all(
            quota[d] >= float(q.need(d)) - 1e-9 for d in dims if d in quota) and (
            model.u_level is None or all(util_at[(pair.pool, d)] + float(q.need(d)) / float(pool.total.get(d))
                                         <= model.u_level + 1e-9 for d in pool.util_dims() if q.need(d)))

    def score(k: int) -> float:
        if criterion == "balance":
            pair = pairs[k]
            q = shapes[pair.shape].proto
            pool = pools[pair.pool]
            return max(util_at[(pair.pool, d)] + float(q.need(d)) / float(pool.total.get(d))
                       for d in pool.util_dims())
        return float(coeff.get(model.x[k], 0.0))

    # the copies with the fewest pools to go to first (pinned, rare accelerators), then the largest
    order = sorted((s for s in shapes if placed_of[s.index] < s.count),
                   key=lambda s: (len(by_shape[s.index]), -s.proto.gpu_count, -s.proto.vcpu, -s.proto.mem_gib))
    for s in order:
        while placed_of[s.index] < s.count:
            options = [k for k in by_shape[s.index] if room(k)]
            if not options:
                break
            k = min(options, key=score)
            x[k] += 1
            take(k, 1)
    return x if model.feasible(x) else None
