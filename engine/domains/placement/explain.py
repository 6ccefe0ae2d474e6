"""Why a plan is what it is: binding constraints, why each unplaced copy did not fit and what would
make it fit, and the runner-up plan and why it lost.

Schedulers answer "pending"; this answers with the pool and dimension that is full, the quota that
is tight, and a change that would let the rest in ("+2 H100 in cn-north-1"). Everything is read
from the instance and the plan's integer assignment (``plan.usage``), never from the solver's
floats, so the text and the figures agree.

Reasons for copies left out, checked in this order (the first that holds is the reason):
``region`` (no pool in the request's region), ``accelerator`` (none there has its model),
``size`` (no such pool could hold one copy even empty), ``quota`` (the quota has less left than
one copy needs), ``anti_affinity`` (every pool that still has room already holds a copy of the
group), ``capacity`` (the pools that could take it are full after the copies the plan placed).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from engine.domains.placement.instance import BASE_DIMS, Instance, Pool, Request
from engine.domains.placement.model import Weights
from engine.domains.placement.plan import Plan, usage, utilisation_after
from engine.domains.placement.shapes import Shape, has_model, in_region

LABELS = {"vcpu": "vCPU", "mem_gib": "GiB memory", "storage_gib": "GiB storage"}
MAX_BINDING = 20


def label(dim: str) -> str:
    return dim[4:] if dim.startswith("gpu:") else LABELS[dim]


def num(value: Decimal) -> str:
    """A plain number: no exponent, no trailing zeros."""
    text = f"{value.normalize():f}"
    return text


def _dims(q: Request) -> list[str]:
    return [*(d for d in BASE_DIMS if q.need(d) > 0), *([f"gpu:{q.gpu_model}"] if q.gpu_model else [])]


def _left(instance: Instance, used: dict[tuple[str, str], Decimal]) -> dict[tuple[str, str], Decimal]:
    return {(p.id, d): p.capacity.get(d) - used.get((p.id, d), Decimal(0)) for p in instance.pools
            for d in p.total.dims()}


def _quota_left(instance: Instance, plan: Plan) -> dict[str, Decimal]:
    if instance.quota is None:
        return {}
    by_id = {r.id: r for r in instance.requests}
    return {d: limit - sum((by_id[a.request_id].need(d) * a.copies for a in plan.assignments), Decimal(0))
            for d, limit in sorted(instance.quota.items())}


def binding(instance: Instance, plan: Plan) -> list[dict[str, Any]]:
    """Pool dimensions the plan leaves too little of for one more copy of anything that could go
    there, the quota dimensions it exhausts, and (balance) the pool that sets the highest
    utilisation."""
    used = usage(instance, plan.assignments)
    left = _left(instance, used)
    util = utilisation_after(instance, used)
    out = []
    for p in instance.pools:
        fitting = [r for r in instance.requests if in_region(r, p) and has_model(r, p)]
        for dim in p.total.dims():
            needs = [r.need(dim) for r in fitting if r.need(dim) > 0]
            if not needs or used.get((p.id, dim), Decimal(0)) == 0 or left[(p.id, dim)] >= min(needs):
                continue
            out.append({"kind": "capacity", "pool": p.id, "region": p.region, "dimension": label(dim),
                        "left": num(left[(p.id, dim)]), "used_by_plan": num(used[(p.id, dim)]),
                        "utilisation": num(util.get((p.id, dim), Decimal(1)).quantize(Decimal("0.0001"))),
                        "text": f"pool {p.id} ({p.region}) has {num(left[(p.id, dim)])} {label(dim)} left, "
                                f"less than the smallest copy that could go there needs ({num(min(needs))})"})
    for dim, amount in _quota_left(instance, plan).items():
        needs = [r.need(dim) for r in instance.requests if r.need(dim) > 0]
        if needs and amount < min(needs):
            out.append({"kind": "quota", "dimension": label(dim), "left": num(amount),
                        "text": f"the quota has {num(amount)} {label(dim)} left, less than the smallest copy "
                                f"needs ({num(min(needs))})"})
    out.sort(key=lambda b: (b["kind"] != "quota", -Decimal(b.get("utilisation", "1"))))
    top = max(util.items(), key=lambda kv: kv[1], default=None)
    if plan.objective in ("balance", "custom") and top is not None:
        (pool_id, dim), share = top
        out.insert(0, {"kind": "max_util", "pool": pool_id, "dimension": label(dim), "utilisation": num(share.quantize(
            Decimal("0.0001"))), "text": f"pool {pool_id} {label(dim)} sets the highest utilisation, "
                                         f"{num((share * 100).quantize(Decimal('0.1')))}%"})
    return out[:MAX_BINDING]


def _where(q: Request) -> str:
    return q.region or "any region"


def _shortfall(q: Request, p: Pool, missing: int, left: dict[tuple[str, str], Decimal]) -> dict[str, Decimal]:
    return {d: q.need(d) * missing - left[(p.id, d)] for d in _dims(q) if q.need(d) * missing > left[(p.id, d)]}


def _fix(short: dict[str, Decimal], p: Pool) -> str:
    return ", ".join(f"+{num(a)} {label(d)}" for d, a in short.items()) + f" in {p.region} (pool {p.id})"


def why_unplaced(instance: Instance, plan: Plan, q: Request, missing: int, left: dict[tuple[str, str], Decimal],
                 quota_left: dict[str, Decimal], holders: set[str]) -> dict[str, Any]:
    """The reason ``missing`` copies of ``q`` are not placed, and what would make them fit."""
    base = {"request_id": q.id, "copies": missing}
    in_reg = [p for p in instance.pools if in_region(q, p)]
    if not in_reg:
        return {**base, "reason": "region", "text": f"no pool in region {q.region}",
                "fix": f"a pool in {q.region}"}
    with_model = [p for p in in_reg if has_model(q, p)]
    if not with_model:
        return {**base, "reason": "accelerator", "text": f"no pool with {q.gpu_model} in {_where(q)}",
                "fix": f"+{q.gpu_count * missing} {q.gpu_model} in {_where(q)}"}
    roomy = [p for p in with_model if all(p.total.get(d) >= q.need(d) for d in _dims(q))]
    if not roomy:
        best = min(with_model, key=lambda p: sum(max(q.need(d) - p.total.get(d), 0) for d in _dims(q)))
        short = {d: q.need(d) * missing - best.capacity.get(d) for d in _dims(q)
                 if q.need(d) * missing > best.capacity.get(d)}
        return {**base, "reason": "size", "text": f"no pool with {q.gpu_model or 'CPUs'} in {_where(q)} could hold "
                f"one copy even empty", "fix": _fix(short, best)}
    for dim, amount in quota_left.items():
        if q.need(dim) > amount:
            return {**base, "reason": "quota", "dimension": label(dim),
                    "text": f"the quota has {num(amount)} {label(dim)} left, a copy needs {num(q.need(dim))}",
                    "fix": f"+{num(q.need(dim) * missing - max(amount, Decimal(0)))} {label(dim)} quota"}
    room = [p for p in roomy if not _shortfall(q, p, 1, left)]
    if q.anti_affinity and room and all(p.id in holders for p in room):
        return {**base, "reason": "anti_affinity",
                "text": f"anti-affinity group {q.anti_affinity} already has a copy in every pool with room "
                        f"({', '.join(p.id for p in room)})",
                "fix": f"{missing} more pool(s) with room in {_where(q)}"}
    best = min(roomy, key=lambda p: sum(a / max(p.total.get(d), Decimal(1))
                                        for d, a in _shortfall(q, p, missing, left).items()))
    short = _shortfall(q, best, missing, left)
    full = ", ".join(f"{num(left[(best.id, d)])} {label(d)}" for d in short)
    return {**base, "reason": "capacity",
            "text": f"the {len(roomy)} pool(s) with {q.gpu_model or 'CPUs'} in {_where(q)} are full after this plan: "
                    f"pool {best.id} has {full} left",
            "fix": _fix(short, best)}


def unplaced(instance: Instance, plan: Plan) -> list[dict[str, Any]]:
    used = usage(instance, plan.assignments)
    left = _left(instance, used)
    quota_left = _quota_left(instance, plan)
    placed: dict[str, int] = {}
    holders: dict[str, set[str]] = {}
    by_id = {r.id: r for r in instance.requests}
    for a in plan.assignments:
        placed[a.request_id] = placed.get(a.request_id, 0) + a.copies
        group = by_id[a.request_id].anti_affinity
        if group:
            holders.setdefault(group, set()).add(a.pool_id)
    return [why_unplaced(instance, plan, q, q.count - placed.get(q.id, 0), left, quota_left,
                         holders.get(q.anti_affinity or "", set()))
            for q in instance.requests if placed.get(q.id, 0) < q.count]


def explain(instance: Instance, plan: Plan, shapes: Sequence[Shape], *, weights: Weights | None = None
            ) -> dict[str, Any]:
    """The explanation of ``plan`` (its runner-up is added by ``runner_ups`` once every plan is known)."""
    missing = unplaced(instance, plan)
    what = {"cost": "lowest hourly cost", "performance": "highest performance",
            "balance": "lowest highest-utilisation", "custom": "best weighted score"}[plan.objective]
    honesty = ("proved optimal" if plan.status == "optimal" else
               f"stopped by the time limit, within {plan.gap:.2%} of the bound" if plan.gap is not None else
               "stopped by the time limit before a bound was proved")
    summary = (f"{plan.objective}-first: placed {plan.placed} of {plan.requested} copies (the most that fit), then "
               f"the {what}: cost {num(plan.cost)}/h, performance {num(plan.performance)}, highest utilisation "
               f"{num((plan.max_util * 100).quantize(Decimal('0.1')))}%; {honesty}.")
    if missing:
        summary += f" {sum(m['copies'] for m in missing)} copies not placed: see unplaced."
    return {"summary": summary, "binding": binding(instance, plan), "unplaced": missing, "runner_up": None,
            "shapes": len(shapes)}


def _score(plan: Plan, objective: str, norm: tuple[float, float], weights: Weights | None) -> tuple[Any, ...]:
    """How ``objective`` ranks ``plan``: more copies first, then its criterion, then cost."""
    w = weights or Weights()
    crit: Any = {"cost": plan.cost, "performance": -plan.performance, "balance": plan.max_util}.get(objective)
    if crit is None:
        crit = (w.cost * float(plan.cost) / norm[0] + w.performance * (1 - float(plan.performance) / norm[1])
                + w.balance * float(plan.max_util))
    return (-plan.placed, crit, plan.cost)


def _lost(winner: Plan, other: Plan, objective: str) -> str:
    if (other.placed, other.cost, other.performance, other.max_util) == (
            winner.placed, winner.cost, winner.performance, winner.max_util):
        return "it did not: it is an equally good plan with the same figures"
    if objective != "custom" and _rank(other, objective) < _rank(winner, objective):
        return ("it did not: it is better by this plan's own measure, within the gap the solver was asked for "
                f"({_criterion_text(winner, other, objective)})")
    if other.placed < winner.placed:
        return f"it places {winner.placed - other.placed} fewer copies"
    dc = other.cost - winner.cost
    pct = f" ({dc / winner.cost:+.1%})" if winner.cost else ""
    if objective == "cost" or (objective != "custom" and _same(winner, other, objective)):
        trade = (f"; it would buy performance {num(other.performance - winner.performance)} more"
                 if other.performance > winner.performance else "")
        return f"it costs {num(dc)}/h more{pct}{trade}"
    if objective == "performance":
        return (f"its performance is {num(winner.performance - other.performance)} lower "
                f"({num(other.performance)} vs {num(winner.performance)}), at {num(dc)}/h{pct} difference in cost")
    if objective == "balance":
        return (f"its highest utilisation is {num((other.max_util * 100).quantize(Decimal('0.1')))}% vs "
                f"{num((winner.max_util * 100).quantize(Decimal('0.1')))}%")
    return "its weighted score (normalised cost, performance, balance) is worse"


def _rank(plan: Plan, objective: str) -> tuple[Any, ...]:
    crit = {"cost": plan.cost, "performance": -plan.performance, "balance": plan.max_util}[objective]
    return (-plan.placed, crit, plan.cost)


def _criterion_text(winner: Plan, other: Plan, objective: str) -> str:
    if objective == "performance":
        return f"performance {num(other.performance)} vs {num(winner.performance)}"
    if objective == "balance":
        return f"highest utilisation {num(other.max_util)} vs {num(winner.max_util)}"
    return f"cost {num(other.cost)}/h vs {num(winner.cost)}/h"


def _same(a: Plan, b: Plan, objective: str) -> bool:
    return {"performance": a.performance == b.performance, "balance": a.max_util == b.max_util}.get(objective, False)


def runner_ups(plans: list[Plan], *, weights: Weights | None = None, norm: tuple[float, float] = (1.0, 1.0)) -> None:
    """Each plan's runner-up: the best of the other plans under its objective, and why it lost.
    ``norm``: the custom objective's cost and performance scales (``Model.cost_scale``, ``perf_scale``)."""
    for plan in plans:
        others = [p for p in plans if p is not plan]
        if not others:
            continue
        best = min(others, key=lambda p: _score(p, plan.objective, norm, weights))
        plan.explanation["runner_up"] = {
            "objective": best.objective, "placed": best.placed, "cost": str(best.cost),
            "performance": str(best.performance), "max_util": str(best.max_util),
            "lost_because": _lost(plan, best, plan.objective)}
