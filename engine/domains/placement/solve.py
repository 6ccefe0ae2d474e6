"""The plans: lexicographic stages over one model, within one time budget.

Every objective first places as many copies as possible; that stage is the same for all of them,
so it is solved once and its level ("placed >= P") held in every plan. Then the objective's own
criterion, then (except for cost-first, whose criterion it is) the lowest cost as the tie-break:

=============  =====================================================
cost           placed, cost
performance    placed, performance, cost
balance        placed, highest utilisation, cost
custom         placed, weighted normalised cost/performance/balance, cost
=============  =====================================================

``time_limit_s`` is the budget of the whole call, building the model included: each stage gets at
most twice its even share of what is left (a tie-break once), so an easy stage hands its time on.
A plan's ``status`` is that of placing and of its criterion (what the objective promises); the
tie-break's own proof is in ``stages`` and ``tie_break``. A stage stopped by the limit keeps its
incumbent (and the plan says ``time_limit`` with the gap and bound); a stage stopped before any
incumbent keeps the previous stage's plan. Nothing here raises for an input that cannot be fully
placed: the plan places what it can and the explanation says why the rest did not fit.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.domains.placement import explain, search
from engine.domains.placement.instance import Instance
from engine.domains.placement.milp import DEFAULT_GAP, Outcome
from engine.domains.placement.model import Model, Weights
from engine.domains.placement.plan import Assignment, Plan, measure
from engine.domains.placement.shapes import aggregate, pairs, split

OBJECTIVES = ("cost", "performance", "balance", "custom")
STANDARD = ("cost", "performance", "balance")
STAGES: dict[str, tuple[str, ...]] = {"cost": ("cost",), "performance": ("performance", "cost"),
                                      "balance": ("balance", "cost"), "custom": ("custom", "cost")}
DEFAULT_TIME_LIMIT_S = 10.0
SIGN = {"placed": -1.0, "performance": -1.0}  # stages that maximise are minimised negated


@dataclass(frozen=True)
class Options:
    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    gap: float = DEFAULT_GAP
    solver: str = "auto"  # auto (HiGHS, CBC as the fallback) | highs | cbc


class _Budget:
    def __init__(self, seconds: float, stages: int) -> None:
        self.deadline = time.perf_counter() + seconds
        self.left = stages

    def next(self, *, secondary: bool = False) -> float:
        """The next stage's limit: twice its even share of what is left (once for a tie-break)."""
        remaining = max(self.deadline - time.perf_counter(), 0.0)
        share = remaining if self.left <= 1 else min(remaining, (1 if secondary else 2) * remaining / self.left)
        self.left -= 1
        return max(share, 0.01)


def _stage_record(criterion: str, out: Outcome) -> dict[str, Any]:
    sign = SIGN.get(criterion, 1.0)
    return {"criterion": criterion, "status": out.status, "solver": out.solver,
            "value": None if out.value is None else round(sign * out.value, 9),
            "bound": None if out.bound is None else round(sign * out.bound, 9),
            "gap": None if out.gap is None else round(out.gap, 9),
            "seconds": round(out.seconds, 3), "limit_s": round(out.limit_s, 3)}


def _assignments(model: Model, values: list[int]) -> list[Assignment]:
    per_shape: dict[int, dict[int, int]] = defaultdict(dict)
    for n, pair in zip(values, model.pairs, strict=True):
        if n:
            per_shape[pair.shape][pair.pool] = n
    order = {r.id: i for i, r in enumerate(model.instance.requests)}
    out = [Assignment(req.id, model.instance.pools[j].id, n)
           for s in model.shapes for req, j, n in split(s, per_shape.get(s.index, {}))]
    return sorted(out, key=lambda a: (order[a.request_id], a.pool_id))


@dataclass
class _Progress:
    """One plan's stages so far: their outcomes and the plan each left."""

    objective: str
    outcomes: list[tuple[str, Outcome]]
    values: list[int]
    seconds: float


def _stage(model: Model, progress: _Progress, criterion: str, placed: int, budget: _Budget, options: Options,
           weights: Weights | None) -> None:
    """Run ``criterion`` for ``progress``'s plan: its earlier levels held, its last plan the start."""
    started = time.perf_counter()
    tie_break = len(progress.outcomes) > 1
    model.release()
    model.restore(progress.values)  # meets placed >= P and the plan's own earlier levels
    model.hold("placed", -float(placed))
    for done, _out in progress.outcomes[1:]:
        model.hold(done, model.value_of(done, weights), weights)
    out = search.run(model, criterion, limit_s=budget.next(secondary=tie_break), gap=options.gap,
                     solver=options.solver, weights=weights, tie_break=tie_break)
    progress.outcomes.append((criterion, out))
    progress.values = model.values()
    progress.seconds += time.perf_counter() - started


def _plan(model: Model, progress: _Progress) -> Plan:
    assignments = _assignments(model, progress.values)
    cost, perf, max_util = measure(model.instance, assignments)
    outcomes = progress.outcomes
    main_criterion, main = outcomes[1]
    # judged on placing and its criterion; the cost tie-break's own proof is in stages/tie_break
    status = "optimal" if {o.status for _, o in outcomes[:2]} == {"optimal"} else "time_limit"
    sign = SIGN.get(main_criterion, 1.0)
    bound = None if main.bound is None else Decimal(str(round(sign * main.bound, 6)))
    return Plan(objective=progress.objective, assignments=assignments, placed=sum(a.copies for a in assignments),
                requested=sum(r.count for r in model.instance.requests), cost=cost, performance=perf,
                max_util=max_util, status=status, gap=main.gap, bound=bound, solve_s=progress.seconds,
                solver="+".join(sorted({o.solver for _, o in outcomes})),
                stages=[_stage_record(c, o) for c, o in outcomes])


def solve_plans(instance: Instance, objectives: Sequence[str] = STANDARD, *, weights: Weights | None = None,
                options: Options | None = None, explained: bool = True) -> list[Plan]:
    """One plan per objective (in the order given), each with its explanation; ``custom`` uses
    ``weights``. The runner-up of each plan is the best of the others under its objective."""
    options = options or Options()
    unknown = [o for o in objectives if o not in OBJECTIVES]
    if unknown or not objectives:
        raise ValueError(f"objectives must be among {', '.join(OBJECTIVES)}")
    # the stages share the limit less a tenth (at most 1 s) kept for measuring and explaining the
    # plans; building the model counts too
    reserve = min(options.time_limit_s / 10, 1.0)
    budget = _Budget(options.time_limit_s - reserve, 1 + sum(len(STAGES[o]) for o in objectives))
    shapes = aggregate(instance.requests)
    model = Model(instance, shapes, pairs(instance, shapes), gap=options.gap)
    out = search.run(model, "placed", limit_s=budget.next(), gap=0.0, solver=options.solver)
    first = model.values()
    progress = [_Progress(o, [("placed", out)], first, out.seconds) for o in dict.fromkeys(objectives)]
    # every plan's criterion first, then the tie-breaks: on a short budget the criteria, which a
    # plan's status stands on, get the time
    for step in range(max(len(STAGES[p.objective]) for p in progress)):
        for p in progress:
            if step < len(STAGES[p.objective]):
                _stage(model, p, STAGES[p.objective][step], sum(first), budget, options, weights)
    plans = [_plan(model, p) for p in progress]
    if explained:
        for plan in plans:
            plan.explanation = explain.explain(instance, plan, shapes, weights=weights)
        explain.runner_ups(plans, weights=weights, norm=(model.cost_scale, model.perf_scale))
    return plans


def solve(instance: Instance, objective: str = "cost", *, weights: Weights | None = None,
          options: Options | None = None) -> Plan:
    """The plan for one objective, its runner-up taken from the three standard plans."""
    wanted = [objective, *(o for o in STANDARD if o != objective)]
    return solve_plans(instance, wanted, weights=weights, options=options)[0]
