"""The placement MILP over shapes, built once and re-solved stage by stage.

Variables: ``x[k]`` integer copies of pair k's shape in its pool (``shapes.pairs``: only where a
copy may go, bounded by what fits), and ``U`` the highest utilisation after placement.

Constraints: a shape places at most its copies; a pool's capacity per dimension (vCPU, memory,
storage, each accelerator model); the quota, when given, over all pools; an anti-affinity group
puts at most one copy in a pool; ``U`` is at least every pool's utilisation after placement in
every dimension balance counts, and at least the highest current utilisation of all (so untouched
pools count as they are).

Why ``U`` has a strong bound here: with one integer per (shape, pool) instead of one binary per
(copy, pool), the LP relaxation of "min U" is the fractional water-filling of the same aggregated
demand, which is within one copy per pool of the integer optimum; the naive binary model leaves
the relaxation free to split every copy and the bound collapses (docs/environment.md). ``U`` sits
only in the rows that need it and has no cost in the other stages, so HiGHS's presolve drops those
rows there.

Stages (``search``) only change the objective, add a level row ("placed >= P", "cost <= C") and
narrow bounds for a while, so one build serves every plan.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import pulp

from engine.domains.placement.instance import BASE_DIMS, Instance
from engine.domains.placement.milp import DEFAULT_GAP, Outcome, solve
from engine.domains.placement.shapes import Pair, Shape

CRITERIA = ("placed", "cost", "performance", "balance", "custom")
TIED = ("performance", "balance", "custom")  # criteria followed by the cost tie-break
TIE = 1e-5  # relative weight of the cost term in their stage, at most a tenth of the gap (Model.objective)
LEVEL_SLACK = 1e-6  # relative room on a level row, so the incumbent that set it stays feasible


@dataclass(frozen=True)
class Weights:
    """Custom plan: weights over normalised cost, performance and balance (each 0..1)."""

    cost: float = 1.0
    performance: float = 1.0
    balance: float = 1.0


class Model:
    def __init__(self, instance: Instance, shapes: list[Shape], pairs: list[Pair], *, gap: float = 1.0) -> None:
        self.tie = min(TIE, gap / 10)  # what the tie term may cost the criterion stays well inside the gap
        self.instance, self.shapes, self.pairs = instance, shapes, pairs
        self.problem = pulp.LpProblem("placement", pulp.LpMinimize)
        self.x = [self.problem.add_variable(f"x{k}", 0, pair.upper, cat=pulp.LpInteger) for k, pair in enumerate(pairs)]
        self.u0 = max((float(p.utilisation.get(d)) for p in instance.pools for d in p.util_dims()), default=0.0)
        self.u = self.problem.add_variable("U", self.u0, None)
        self._levels: list[str] = []
        self.u_level: float | None = None  # the balance level held, if any (``hold``)
        self._rows()
        self.placed = pulp.LpAffineExpression([(v, 1) for v in self.x])
        self.cost = pulp.LpAffineExpression([(v, p.cost) for v, p in zip(self.x, pairs, strict=True)])
        self.perf = pulp.LpAffineExpression([(v, p.perf) for v, p in zip(self.x, pairs, strict=True)])
        for v in (*self.x, self.u):  # a valid start: nothing placed, U at its floor
            v.varValue = v.lowBound
        self.cost_scale = max(sum(s.count * max((p.cost for p in pairs if p.shape == s.index), default=0.0)
                                  for s in shapes), 1e-9)
        self.perf_scale = max(sum(s.count * max((p.perf for p in pairs if p.shape == s.index), default=0.0)
                                  for s in shapes), 1e-9)

    def _rows(self) -> None:
        prob, pools = self.problem, self.instance.pools
        by_shape: dict[int, list[int]] = defaultdict(list)
        by_pool: dict[int, list[int]] = defaultdict(list)
        for k, pair in enumerate(self.pairs):
            by_shape[pair.shape].append(k)
            by_pool[pair.pool].append(k)
        for s in self.shapes:
            ks = by_shape.get(s.index, [])
            if sum(self.pairs[k].upper for k in ks) > s.count:
                prob += pulp.LpAffineExpression([(self.x[k], 1) for k in ks]) <= s.count, f"count_{s.index}"
        for j, ks in by_pool.items():
            pool = pools[j]
            for dim in [*BASE_DIMS, *(f"gpu:{m}" for m in sorted(pool.capacity.gpu))]:
                terms = [(self.x[k], float(self.shapes[self.pairs[k].shape].proto.need(dim))) for k in ks]
                terms = [(v, a) for v, a in terms if a > 0]
                cap = float(pool.capacity.get(dim))
                if terms and sum(a * v.upBound for v, a in terms) > cap + 1e-9:
                    prob += pulp.LpAffineExpression(terms) <= cap, f"cap_{j}_{dim}"
            for dim in pool.util_dims():
                total = float(pool.total.get(dim))
                terms = [(self.x[k], float(self.shapes[self.pairs[k].shape].proto.need(dim)) / total) for k in ks]
                terms = [(v, a) for v, a in terms if a > 0]
                if terms:
                    prob += (pulp.LpAffineExpression(terms) - self.u <= -float(pool.utilisation.get(dim)),
                             f"util_{j}_{dim}")
            groups: dict[str, list[int]] = defaultdict(list)
            for k in ks:
                group = self.shapes[self.pairs[k].shape].proto.anti_affinity
                if group:
                    groups[group].append(k)
            for n, (_group, gks) in enumerate(sorted(groups.items())):
                if len(gks) > 1:
                    prob += pulp.LpAffineExpression([(self.x[k], 1) for k in gks]) <= 1, f"anti_{j}_{n}"
        for dim, limit in sorted((self.instance.quota or {}).items()):
            terms = [(self.x[k], float(self.shapes[p.shape].proto.need(dim))) for k, p in enumerate(self.pairs)]
            terms = [(v, a) for v, a in terms if a > 0]
            if terms:
                prob += pulp.LpAffineExpression(terms) <= float(limit), f"quota_{dim}"

    def floor(self, criterion: str) -> float | None:
        """What ``criterion`` (minimised form) can never go below: no cost under 0, no highest
        utilisation under the busiest pool's current one, no custom score under 0."""
        return {"cost": 0.0, "custom": 0.0, "balance": self.u0}.get(criterion)

    def tie_room(self, criterion: str) -> float:
        """The most the cost term of ``objective(..., tie=True)`` adds (0 where there is none)."""
        if criterion not in TIED:
            return 0.0
        return self.tie * (self.perf_scale if criterion == "performance" else 1.0)

    def objective(self, criterion: str, weights: Weights | None = None, *, tie: bool = False
                  ) -> pulp.LpAffineExpression:
        """The expression a stage minimises for ``criterion``; ``tie``: plus a cost term too small to
        trade any of the criterion (at most ``tie_room``), so the stage already prefers the cheaper
        of near-equal plans and the cost tie-break after it starts close to its end."""
        expr = self._objective(criterion, weights)
        if tie and criterion in TIED:
            expr = expr + self.cost * (self.tie_room(criterion) / self.cost_scale)
        return expr

    def _objective(self, criterion: str, weights: Weights | None = None) -> pulp.LpAffineExpression:
        if criterion == "placed":
            return -self.placed
        if criterion == "cost":
            return self.cost
        if criterion == "performance":
            return -self.perf
        if criterion == "balance":
            return pulp.LpAffineExpression([(self.u, 1)])
        w = weights or Weights()
        # normalised: cost / the dearest placement, (1 - performance / the best), U (a share already)
        return (self.cost * (w.cost / self.cost_scale) - self.perf * (w.performance / self.perf_scale)
                + w.performance + pulp.LpAffineExpression([(self.u, w.balance)]))

    def hold(self, criterion: str, value: float, weights: Weights | None = None) -> None:
        """Keep a finished stage's level in the stages after it (its objective no worse than ``value``)."""
        name = f"level_{len(self._levels)}_{criterion}"
        room = LEVEL_SLACK * max(abs(value), 1.0)
        self.problem += self.objective(criterion, weights) <= value + room, name
        self._levels.append(name)
        if criterion == "balance":
            self.u_level = value + room

    def release(self) -> None:
        """Drop every level row: the next plan starts again from the shared first stage."""
        for name in self._levels:
            self.problem._constraints.pop(name, None)  # PuLP has no public remove
        self._levels.clear()
        self.u_level = None

    def set_objective(self, criterion: str, weights: Weights | None = None, *, tie: bool = False) -> None:
        self.problem.setObjective(self.objective(criterion, weights, tie=tie))
        self.problem.sense = pulp.LpMinimize

    def solve(self, *, limit_s: float, gap: float = DEFAULT_GAP, solver: str = "auto", mip: bool = True,
              warm: bool = False) -> Outcome:
        return solve(self.problem, limit_s=limit_s, gap=gap, solver=solver, mip=mip, warm=warm)

    def value_of(self, criterion: str, weights: Weights | None = None, *, tie: bool = False) -> float:
        """The current values' objective for ``criterion`` (minimised form)."""
        return float(self.objective(criterion, weights, tie=tie).value() or 0.0)

    def floors(self, values: list[float] | None, slack: int = 0) -> None:
        """Restrict every ``x`` to at least ``floor(value) - slack`` (``None``: lift the restriction)."""
        for v, val in zip(self.x, values or [0.0] * len(self.x), strict=True):
            v.lowBound = max(0, math.floor(val + 1e-6) - slack) if values is not None else 0

    def cap_u(self, limit: float | None) -> None:
        """At most ``limit`` utilisation in every pool and dimension balance counts (None: no cap)."""
        self.u.upBound = limit

    def values(self) -> list[int]:
        return [int(round(v.varValue or 0)) for v in self.x]

    def raw(self) -> list[float]:
        return [float(v.varValue or 0.0) for v in self.x]

    def feasible(self, values: list[int]) -> bool:
        """Whether ``values`` meet every row of the problem as it stands (level rows included);
        the variables are left holding the values they had."""
        saved = [(v, v.varValue) for v in (*self.x, self.u)]
        for v, n in zip(self.x, values, strict=True):
            v.varValue = n
        self.u.varValue = max(self.u0, self.util_of(values))
        try:
            return all(v.lowBound is None or v.varValue >= v.lowBound - 1e-9 for v in (*self.x, self.u)) and (
                self.u.upBound is None or self.u.varValue <= self.u.upBound + 1e-9) and all(
                c.valid(1e-7 * max(1.0, abs(c.constant))) for c in self.problem._constraints.values())
        finally:
            for v, old in saved:
                v.varValue = old

    def restore(self, values: list[int]) -> None:
        """Put a snapshot back (a later stage found nothing better than what it started from)."""
        for v, n in zip(self.x, values, strict=True):
            v.varValue = n
        self.u.varValue = max(self.u0, self.util_of(values))

    def util_of(self, values: list[int]) -> float:
        used: dict[tuple[int, str], float] = defaultdict(float)
        for n, pair in zip(values, self.pairs, strict=True):
            if n:
                q = self.shapes[pair.shape].proto
                for dim in self.instance.pools[pair.pool].util_dims():
                    used[(pair.pool, dim)] += n * float(q.need(dim))
        out = self.u0
        for (j, dim), amount in used.items():
            pool = self.instance.pools[j]
            out = max(out, float(pool.utilisation.get(dim)) + amount / float(pool.total.get(dim)))
        return out
