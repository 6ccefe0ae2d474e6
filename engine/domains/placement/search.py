"""How one stage is solved: an LP bound, a cheap incumbent near it, the full MILP only if needed.

Measured on 1,000 requests x 50 pools (tests/bench/bench_placement.py): the aggregated model's
LP relaxation is within a fraction of a percent of the integer optimum, but HiGHS spends seconds
at the root finding an integer plan that still places every copy the first stage placed. So a
stage here (a cost tie-break, whose level row is nearly an equality, skips the dive and starts
the full MILP from the plan it was given, which is usually nearly its answer):

1. solves the LP relaxation: its value is a proven bound (``bound``);
2. unless the plan it starts from (the previous stage's) is already within the gap of that bound,
   rounds the LP plan down and places the split copies greedily (``repair``: milliseconds), then,
   if that is not close enough, dives: keeps every ``x`` at least at ``floor(LP value) - k`` for
   k = 0, 1, 3 and solves that much smaller MILP; the first plan found is the incumbent;
3. if the incumbent is within the gap of the LP bound, that is proved: done; otherwise the full
   MILP runs with the time left and the better plan and the better bound are kept.

The gap is relative (``milp.DEFAULT_GAP``, 0.5%): "optimal" means proved within it, never more.

Balance (``U``, the highest utilisation) gets a threshold search instead of step 3: is there a
plan placing P copies with every utilisation at most ``t``? A "no" proved by the solver raises the
bound to ``t``; a "yes" is a plan with ``U <= t``. The first ``t`` tried is the bound plus the
gap, so one feasible answer usually ends it; each question is a feasibility MILP, as easy as the
first stage, where "min U" itself has a weak bound for branch and bound.

The stage always ends with the model holding its best plan (at worst the one it started from,
which meets every earlier level), and an ``Outcome`` whose status, value, bound and gap are what
was proved.
"""

from __future__ import annotations

import math
import time

from engine.domains.placement.milp import Outcome, relative_gap
from engine.domains.placement.model import Model, Weights
from engine.domains.placement.repair import repair

DIVE_SLACKS = (0, 1, 3)


class _Clock:
    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.deadline = time.perf_counter() + limit_s
        self.started = time.perf_counter()

    def left(self) -> float:
        return max(self.deadline - time.perf_counter(), 0.0)

    def spent(self) -> float:
        return time.perf_counter() - self.started


class _Best:
    """The best plan of the stage so far (minimised value) and the solvers that took part."""

    def __init__(self, model: Model, criterion: str, weights: Weights | None) -> None:
        self.model, self.criterion, self.weights = model, criterion, weights
        self.values = model.values()
        model.restore(self.values)
        self.value = model.value_of(criterion, weights, tie=True)
        self.solvers: set[str] = set()

    def offer(self, out: Outcome) -> None:
        self.solvers.add(out.solver)
        if not out.has_solution:
            return
        values = self.model.values()
        self.model.restore(values)
        value = self.model.value_of(self.criterion, self.weights, tie=True)
        if value < self.value - 1e-9 * max(abs(self.value), 1.0):
            self.values, self.value = values, value

    def keep(self) -> None:
        self.model.restore(self.values)

    def consider(self, values: list[int] | None) -> None:
        """A plan found without a solver (it meets every row)."""
        if values is None:
            return
        self.model.restore(values)
        value = self.model.value_of(self.criterion, self.weights, tie=True)
        if value < self.value - 1e-9 * max(abs(self.value), 1.0):
            self.values, self.value = values, value
        self.keep()


def _dive(model: Model, lp_values: list[float], best: _Best, clock: _Clock, gap: float, solver: str) -> None:
    for slack in DIVE_SLACKS:
        if clock.left() <= 0.02:
            return
        model.floors(lp_values, slack)
        try:
            out = model.solve(limit_s=min(clock.left(), max(clock.limit_s / 4, 0.05)), gap=gap, solver=solver)
        finally:
            model.floors(None)
        best.offer(out)
        if out.has_solution:
            return


def _under(model: Model, lp_values: list[float], t: float, weights: Weights | None) -> list[int] | None:
    """A plan with every utilisation at most ``t`` by rounding the LP plan (which is under ``t``)
    and placing the split copies under ``t``: a "yes" without a solver, or None (ask the solver)."""
    held, model.u_level = model.u_level, t if model.u_level is None else min(model.u_level, t)
    try:
        return repair(model, lp_values, "balance", weights)
    finally:
        model.u_level = held


def _thresholds(model: Model, best: _Best, bound: float, clock: _Clock, gap: float, solver: str,
                lp_values: list[float]) -> float:
    """Raise ``bound`` / lower ``best`` for balance by asking "a plan with U <= t?"; returns the bound."""
    while relative_gap(best.value, bound) > gap and clock.left() > 0.02:
        far = relative_gap(best.value, bound) > 4 * gap
        t = (bound + best.value) / 2 if far else bound / (1 - gap * 0.9)  # a "yes" at t is within the gap
        if t >= best.value:
            break
        found = _under(model, lp_values, t, best.weights)
        if found is not None:
            best.consider(found)
            continue
        model.cap_u(t)
        model.set_objective("placed")  # any plan under the cap will do; the level rows keep P placed
        try:
            out = model.solve(limit_s=clock.left(), gap=1.0, solver=solver)
        finally:
            model.cap_u(None)
            model.set_objective(best.criterion, best.weights, tie=True)
        if out.status == "infeasible":
            bound = t
        elif out.has_solution:
            best.offer(out)
        else:
            break
    return bound


def run(model: Model, criterion: str, *, limit_s: float, gap: float, solver: str = "auto",
        weights: Weights | None = None, tie_break: bool = False) -> Outcome:
    """Solve ``criterion`` (minimised) over the model's current level rows within ``limit_s``.
    ``tie_break``: the cost stage after another criterion, whose level row is nearly an equality:
    rounding an LP plan does not meet it (measured), so no dive; the full MILP starts from the
    stage's start, which is usually nearly its answer."""
    clock = _Clock(limit_s)
    best = _Best(model, criterion, weights)
    model.set_objective(criterion, weights, tie=True)
    lp = model.solve(limit_s=clock.left(), gap=gap, solver=solver, mip=False)
    best.solvers.add(lp.solver)
    if lp.status != "optimal" or lp.value is None:  # no bound: the full MILP decides
        full = model.solve(limit_s=max(clock.left(), 0.01), gap=gap, solver=solver)
        best.offer(full)
        best.keep()
        return _outcome(best, full.bound, clock, gap, full.status == "infeasible")
    bound = math.ceil(lp.value - 1e-6) if criterion == "placed" else lp.value  # whole copies
    lp_values = model.raw()
    if relative_gap(best.value, bound) > gap:  # the start may be close enough already
        best.consider(repair(model, lp_values, criterion, weights))
    if relative_gap(best.value, bound) > gap and not tie_break and criterion != "balance":  # balance: thresholds
        _dive(model, lp_values, best, clock, gap, solver)
    if criterion == "balance" and relative_gap(best.value, bound) > gap:
        bound = _thresholds(model, best, max(bound, model.u0), clock, gap, solver, lp_values)
    if relative_gap(best.value, bound) > gap and clock.left() > 0.02:
        best.keep()  # start from the best plan so far (a tie-break's start is nearly its answer)
        full = model.solve(limit_s=clock.left(), gap=gap, solver=solver, warm=tie_break)
        best.offer(full)
        if full.bound is not None:
            bound = max(bound, full.bound)
        if tie_break and full.status != "optimal" and full.seconds < 0.9 * full.limit_s and clock.left() > 0.05:
            # HiGHS 1.16, given a start, can stop early handing back the start while its figures
            # describe a better plan it does not return (milp's check refuses the claim): ask again cold
            best.keep()
            cold = model.solve(limit_s=clock.left(), gap=gap, solver=solver)
            best.offer(cold)
            if cold.bound is not None:
                bound = max(bound, cold.bound)
    best.keep()
    return _outcome(best, bound, clock, gap, False)


def _outcome(best: _Best, bound: float | None, clock: _Clock, gap: float, infeasible: bool) -> Outcome:
    """What was proved, for the criterion alone: the value without the tie term, and the bound less
    the most that term can add."""
    solver = "+".join(sorted(best.solvers)) or "none"
    value = best.model.value_of(best.criterion, best.weights)
    if bound is None:
        return Outcome("time_limit", value, None, None, clock.spent(), solver, clock.limit_s)
    floor = best.model.floor(best.criterion)
    bound = min(bound - best.model.tie_room(best.criterion), value)
    if floor is not None:
        bound = max(bound, min(floor, value))
    proved = relative_gap(value, bound)
    status = "optimal" if proved <= gap * 1.01 + 1e-9 else "time_limit"
    return Outcome(status, value, bound, proved, clock.spent(), solver, clock.limit_s)
