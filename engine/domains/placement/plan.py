"""A plan: which copies go where, and what that costs, performs and leaves used, counted exactly.

The MILP works on floats; everything a plan reports is recounted here from the integer
assignment in ``Decimal`` (hourly cost, performance, utilisation after placement), so the figures
an applicant compares are exact and the same whichever solver produced the plan.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from engine.domains.placement.instance import Instance
from engine.domains.placement.shapes import copy_cost, copy_perf

PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Assignment:
    request_id: str
    pool_id: str
    copies: int


@dataclass
class Plan:
    objective: str
    assignments: list[Assignment]
    placed: int
    requested: int
    cost: Decimal
    performance: Decimal
    max_util: Decimal
    status: str  # optimal | time_limit: of placing and the objective's criterion (see solve)
    gap: float | None
    bound: Decimal | None  # proven bound on the objective's criterion
    solve_s: float
    solver: str
    stages: list[dict[str, Any]] = field(default_factory=list)
    explanation: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The plan as the CLI prints it and the operator returns it (money and shares as strings:
        exact)."""
        return {
            "objective": self.objective,
            "assignments": [{"request_id": a.request_id, "pool_id": a.pool_id, "copies": a.copies}
                            for a in self.assignments],
            "placed": self.placed, "requested": self.requested,
            "cost": str(self.cost), "performance": str(self.performance), "max_util": str(self.max_util),
            "status": self.status, "gap": None if self.gap is None else round(self.gap, 6),
            "bound": None if self.bound is None else str(self.bound), "solve_s": round(self.solve_s, 3),
            "tie_break": ({"status": self.stages[2]["status"], "gap": self.stages[2]["gap"]}
                          if len(self.stages) > 2 else None),
            "solver": self.solver, "stages": self.stages, "explanation": self.explanation,
        }


def q(value: Decimal) -> Decimal:
    return value.quantize(PLACES, rounding=ROUND_HALF_UP)


def usage(instance: Instance, assignments: list[Assignment]) -> dict[tuple[str, str], Decimal]:
    """What the plan uses, per (pool id, dimension)."""
    by_id = {r.id: r for r in instance.requests}
    used: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for a in assignments:
        req = by_id[a.request_id]
        for dim in instance.pool(a.pool_id).total.dims():
            need = req.need(dim)
            if need:
                used[(a.pool_id, dim)] += need * a.copies
    return used


def utilisation_after(instance: Instance, used: dict[tuple[str, str], Decimal]) -> dict[tuple[str, str], Decimal]:
    """Every pool's share used after the plan, per dimension balance counts (untouched pools as they are)."""
    out = {}
    for p in instance.pools:
        for dim in p.util_dims():
            out[(p.id, dim)] = p.utilisation.get(dim) + used.get((p.id, dim), Decimal(0)) / p.total.get(dim)
    return out


def measure(instance: Instance, assignments: list[Assignment]) -> tuple[Decimal, Decimal, Decimal]:
    """(hourly cost, performance, highest utilisation after placement) of ``assignments``."""
    by_id = {r.id: r for r in instance.requests}
    pools = {p.id: p for p in instance.pools}
    cost = sum((copy_cost(by_id[a.request_id], pools[a.pool_id]) * a.copies for a in assignments), Decimal(0))
    perf = sum((copy_perf(by_id[a.request_id], pools[a.pool_id]) * a.copies for a in assignments), Decimal(0))
    util = utilisation_after(instance, usage(instance, assignments))
    return q(cost), q(perf), q(max(util.values(), default=Decimal(0)))
