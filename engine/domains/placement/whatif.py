"""What-if: re-solve with a pool drained or a capacity changed, and say what that changes.

A drained pool takes no new copies (what it has left becomes zero; what already runs there still
counts in its utilisation). A capacity change sets what a pool has left in some dimensions; the
pool's total moves by the same amount (hardware added or taken away), so its current load, and
with it the share already used, stays what it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from engine.domains.placement.instance import BASE_DIMS, Instance, InstanceError, Pool, Vector
from engine.domains.placement.model import Weights
from engine.domains.placement.plan import Plan
from engine.domains.placement.solve import Options, solve


def _dims_of(change: Mapping[str, Any], where: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    errors = []
    for key, value in change.items():
        if key == "gpu" and isinstance(value, Mapping):
            items = [(f"gpu:{m}", v, f"{where}.gpu.{m}") for m, v in value.items()]
        elif key in BASE_DIMS:
            items = [(key, value, f"{where}.{key}")]
        else:
            errors.append({"field": f"{where}.{key}", "message": "is not vcpu, mem_gib, storage_gib or gpu"})
            continue
        for dim, raw, field in items:
            try:
                amount = Decimal(str(raw))
            except ArithmeticError:
                amount = Decimal(-1)
            if isinstance(raw, bool) or not amount.is_finite() or amount < 0:
                errors.append({"field": field, "message": "must be a number, zero or more"})
            else:
                out[dim] = amount
    if errors:
        raise InstanceError(errors)
    return out


def _with(pool: Pool, left: dict[str, Decimal]) -> Pool:
    """``pool`` with ``left`` as what it has left per dimension, its total moved by the same amount."""

    def vec(v: Vector, new: dict[str, Decimal]) -> Vector:
        gpu = dict(v.gpu)
        base = {d: v.get(d) for d in BASE_DIMS}
        for dim, amount in new.items():
            if dim.startswith("gpu:"):
                gpu[dim[4:]] = amount
            else:
                base[dim] = amount
        return Vector(gpu=gpu, **base)

    capacity = vec(pool.capacity, left)
    total = vec(pool.total, {d: pool.total.get(d) + a - pool.capacity.get(d) for d, a in left.items()})
    used = {d: pool.total.get(d) - pool.capacity.get(d) for d in left}
    share = {d: (used[d] / total.get(d) if total.get(d) else Decimal(0)) for d in left}
    return replace(pool, capacity=capacity, total=total, utilisation=vec(pool.utilisation, share))


def change(instance: Instance, *, drain: Sequence[str] = (), capacity: Mapping[str, Mapping[str, Any]] | None = None
           ) -> Instance:
    """``instance`` with the ``drain`` pools taking nothing new and ``capacity`` ({pool id: {dim:
    what is left}}) applied. Unknown pools raise InstanceError."""
    known = {p.id for p in instance.pools}
    errors = [{"field": f"drain[{i}]", "message": f"no pool {p!r}"} for i, p in enumerate(drain) if p not in known]
    errors += [{"field": f"capacity.{p}", "message": f"no pool {p!r}"} for p in (capacity or {}) if p not in known]
    if errors:
        raise InstanceError(errors)
    pools = []
    for p in instance.pools:
        if p.id in drain:  # nothing new goes there; its total and current load stay as they are
            p = replace(p, capacity=Vector(gpu=dict.fromkeys(p.capacity.gpu, Decimal(0))))
        if capacity and p.id in capacity:
            p = _with(p, _dims_of(capacity[p.id], f"capacity.{p.id}"))
        pools.append(p)
    return replace(instance, pools=tuple(pools))


def what_if(instance: Instance, objective: str, *, drain: Sequence[str] = (),
            capacity: Mapping[str, Mapping[str, Any]] | None = None, weights: Weights | None = None,
            options: Options | None = None, base: Plan | None = None) -> dict[str, Any]:
    """The ``objective`` plan before and after the change, and the difference."""
    before = base or solve(instance, objective, weights=weights, options=options)
    after = solve(change(instance, drain=drain, capacity=capacity), objective, weights=weights, options=options)
    return {"changes": {"drain": list(drain), "capacity": {k: dict(v) for k, v in (capacity or {}).items()}},
            "before": before.to_json(), "after": after.to_json(),
            "delta": {"placed": after.placed - before.placed, "cost": str(after.cost - before.cost),
                      "performance": str(after.performance - before.performance),
                      "max_util": str(after.max_util - before.max_util)}}
