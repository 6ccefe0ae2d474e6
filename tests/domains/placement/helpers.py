"""Small hand-checkable placement instances: ``pool(...)`` and ``request(...)`` with plain defaults.

A pool is empty by default (what is left = total, utilisation 0) with 64 vCPU, 256 GiB, 1000 GiB
storage; give ``gpu={"H100": 8}`` for accelerators and ``used=`` shares to start it part-used.
"""

from __future__ import annotations

from typing import Any


def pool(pid: str, *, region: str = "r1", vcpu: float = 64, mem: float = 256, storage: float = 1000,
         gpu: dict[str, int] | None = None, cost: dict[str, Any] | None = None, perf_cpu: float = 1.0,
         perf_gpu: dict[str, float] | None = None, used: dict[str, float] | None = None) -> dict[str, Any]:
    gpu = gpu or {}
    used = used or {}
    total = {"vcpu": vcpu, "mem_gib": mem, "storage_gib": storage, "gpu": dict(gpu)}
    share = {"vcpu": used.get("vcpu", 0), "mem_gib": used.get("mem_gib", 0), "storage_gib": 0,
             "gpu": {m: used.get(m, 0) for m in gpu}}
    left = {"vcpu": vcpu * (1 - share["vcpu"]), "mem_gib": mem * (1 - share["mem_gib"]), "storage_gib": storage,
            "gpu": {m: round(n * (1 - share["gpu"][m])) for m, n in gpu.items()}}
    c = {"vcpu": 0.04, "mem_gib": 0.005, "storage_gib": 0.0, "gpu": {m: 3.0 for m in gpu}}
    c.update(cost or {})
    return {"id": pid, "provider": "aws", "region": region, "capacity": left, "total": total, "utilisation": share,
            "unit_cost": c, "perf": {"cpu": perf_cpu, "gpu": perf_gpu or {m: 100 for m in gpu}}}


def request(rid: str, *, vcpu: float = 4, mem: float = 16, storage: float = 0, gpu_model: str | None = None,
            gpu_count: int = 0, region: str | None = None, count: int = 1, group: str | None = None) -> dict[str, Any]:
    out = {"id": rid, "vcpu": vcpu, "mem_gib": mem, "storage_gib": storage, "gpu_model": gpu_model,
           "gpu_count": gpu_count, "region": region, "count": count}
    if group:
        out["anti_affinity"] = group
    return out


def where(plan: Any) -> dict[str, dict[str, int]]:
    """request id -> {pool id: copies}."""
    out: dict[str, dict[str, int]] = {}
    for a in plan.assignments:
        out.setdefault(a.request_id, {})[a.pool_id] = a.copies
    return out
