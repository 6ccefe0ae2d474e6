"""Resource pools as a placement instance's ``pools``: the resources domain's read
(``engine.domains.resources.service.pool_capacities``: ``PoolCapacity`` with per-dimension figures
in ``connectors.vector`` terms) turned into the instance JSON the solver reads.

``capacity`` is what is free (total less allocated), ``utilisation`` allocated / total, prices and
scores as staff set them. A price or a score not set counts as zero (the pool is then as cheap, or
as slow, as can be: the explanation shows it); a pool with no region gets ``"-"``, which only
requests naming no region can use.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors import vector

BASE = {"vcpu": "vcpu", "mem_gib": "memory_gib", "storage_gib": "disk_gib"}  # placement name -> vector dimension


def _amounts(cap: Any, read: str) -> dict[str, Any]:
    def one(dim: str) -> str:
        figures = cap.dimensions.get(dim)
        if figures is None:
            return "0"
        value = getattr(figures, read)
        return str(value if value is not None else Decimal(0))

    out: dict[str, Any] = {name: one(dim) for name, dim in BASE.items()}
    out["gpu"] = {vector.gpu_model_of(d): one(d) for d in cap.dimensions if vector.gpu_model_of(d)}
    return out


def instance_pool(cap: Any) -> dict[str, Any]:
    """One ``PoolCapacity`` as an instance pool."""
    perf_cpu = cap.dimensions.get("vcpu")
    return {"id": cap.pool_id, "provider": cap.provider_type or ("static" if cap.static else "-"),
            "region": cap.region or "-", "name": cap.name,
            "capacity": _amounts(cap, "free"), "total": _amounts(cap, "total"),
            "utilisation": _amounts(cap, "utilisation"), "unit_cost": _amounts(cap, "unit_cost"),
            "perf": {"cpu": str(perf_cpu.perf_score) if perf_cpu is not None and perf_cpu.perf_score is not None
                     else "1", "gpu": {m: a for m, a in _amounts(cap, "perf_score")["gpu"].items()}}}
