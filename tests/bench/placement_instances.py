"""Placement instances for the benchmark and the tests: heterogeneous pools, mixed requests, traps.

``generate(requests, pools, seed)`` builds one JSON instance (the shape ``aicmp placement solve``
reads): pools in four regions over three providers, CPU pools and GPU pools with one or two of
four accelerator models, prices and scores that differ by pool; requests drawn from CPU and GPU
flavours, a third pinned to a region, a few in anti-affinity groups, a few that cannot fit (an
accelerator no pool in their region has). Demand is sized to about the capacity, so the pools
compete.

Every instance also holds a greedy trap: region ``trap-1`` has one cheap, small pool and one dear
pool, and requests pinned to ``trap-1`` need the cheap one; unpinned copies of the same size,
which would fit anywhere, come first in a largest-first order and are cheapest there too. A
greedy best-fit fills the cheap pool with them and then pays the dear pool (or nothing fits) for
the pinned ones.
"""

from __future__ import annotations

import random
from typing import Any

REGIONS = ("cn-north-1", "cn-east-2", "us-west-1", "eu-central-1")
PROVIDERS = ("aws", "openstack", "vsphere")
GPU_PRICE = {"H100": 4.0, "A100": 2.5, "L4": 0.8, "Ascend910B": 1.8}
GPU_SCORE = {"H100": 100, "A100": 60, "L4": 18, "Ascend910B": 45}
CPU_FLAVOURS = ((2, 8, 40), (4, 16, 80), (8, 32, 100), (16, 64, 200), (32, 128, 200))
GPU_FLAVOURS = ((8, 64, 200, "L4", 1), (16, 128, 400, "A100", 2), (32, 256, 800, "H100", 4),
                (64, 512, 1600, "A100", 8), (24, 192, 400, "Ascend910B", 4), (12, 96, 200, "A100", 1))


def _vec(vcpu: float, mem: float, storage: float, gpu: dict[str, Any]) -> dict[str, Any]:
    return {"vcpu": vcpu, "mem_gib": mem, "storage_gib": storage, "gpu": gpu}


def _pool(rnd: random.Random, i: int, region: str, models: list[str], size: float) -> dict[str, Any]:
    vcpu = int(rnd.choice((256, 512, 768, 1024)) * size)
    gpus = {m: int(rnd.choice((32, 48, 64, 96)) * size) for m in models}
    util = {"vcpu": round(rnd.uniform(0.0, 0.6), 3), "mem_gib": round(rnd.uniform(0.0, 0.6), 3),
            "storage_gib": round(rnd.uniform(0.0, 0.5), 3), "gpu": {m: round(rnd.uniform(0.0, 0.6), 3) for m in models}}
    mem = vcpu * (8 if models else 4)  # GPU flavours carry 8 GiB a vCPU
    total = _vec(vcpu, mem, vcpu * 20, gpus)
    capacity = _vec(int(vcpu * (1 - util["vcpu"])), int(mem * (1 - util["mem_gib"])),
                    int(vcpu * 20 * (1 - util["storage_gib"])),
                    {m: int(gpus[m] * (1 - util["gpu"][m])) for m in models})
    util = {"vcpu": round(1 - capacity["vcpu"] / vcpu, 6), "mem_gib": round(1 - capacity["mem_gib"] / mem, 6),
            "storage_gib": round(1 - capacity["storage_gib"] / (vcpu * 20), 6),
            "gpu": {m: round(1 - capacity["gpu"][m] / gpus[m], 6) for m in models if gpus[m]}}
    factor = rnd.uniform(0.7, 1.3)
    cost = _vec(round(0.04 * factor, 4), round(0.005 * rnd.uniform(0.7, 1.3), 4), 0.0001,
                {m: round(GPU_PRICE[m] * rnd.uniform(0.7, 1.3), 3) for m in models})
    return {"id": f"pool-{i:02d}", "provider": rnd.choice(PROVIDERS), "region": region, "capacity": capacity,
            "total": total, "utilisation": util, "unit_cost": cost,
            "perf": {"cpu": round(rnd.uniform(0.8, 1.3), 3),
                     "gpu": {m: round(GPU_SCORE[m] * rnd.uniform(0.8, 1.25), 2) for m in models}}}


def _trap(i: int, cheap: bool) -> dict[str, Any]:
    """Region trap-1: a cheap small GPU pool and a dear large one."""
    gpus, vcpu = (16, 256) if cheap else (64, 1024)
    price = 1.5 if cheap else 6.0
    return {"id": f"trap-{'cheap' if cheap else 'dear'}", "provider": "aws", "region": "trap-1",
            "capacity": _vec(vcpu, vcpu * 8, vcpu * 20, {"A100": gpus}), "total": _vec(vcpu, vcpu * 8, vcpu * 20,
                                                                                         {"A100": gpus}),
            "utilisation": _vec(0, 0, 0, {"A100": 0}), "unit_cost": _vec(0.03, 0.004, 0.0001, {"A100": price}),
            "perf": {"cpu": 1.0, "gpu": {"A100": 60 if cheap else 62}}}


def generate(requests: int, pools: int, seed: int = 0) -> dict[str, Any]:
    rnd = random.Random(seed)
    out_pools = [_trap(0, True), _trap(1, False)]
    for i in range(pools - 2):
        region = REGIONS[i % len(REGIONS)]
        kind = rnd.random()
        models = [] if kind < 0.35 else rnd.sample(sorted(GPU_PRICE), 1 if kind < 0.8 else 2)
        if region == "eu-central-1":  # no H100 in Europe: pinned H100 requests there cannot fit
            models = [m for m in models if m != "H100"]
        out_pools.append(_pool(rnd, i, region, models, size=max(requests / 1000, 0.05) * 4.5 * 50 / pools))
    out_requests = []
    n_trap = max(2, requests // 50)
    for i in range(requests):
        if i < n_trap:  # the trap: unpinned A100 work of the trap size, then the same pinned to trap-1
            pinned = i % 2 == 1
            out_requests.append({"id": f"r{i:04d}", "vcpu": 16, "mem_gib": 128, "storage_gib": 400,
                                 "gpu_model": "A100", "gpu_count": 2, "region": "trap-1" if pinned else None,
                                 "count": 2})
            continue
        gpu = rnd.random() < 0.4
        vcpu, mem, storage, model, count = (rnd.choice(GPU_FLAVOURS) if gpu else (*rnd.choice(CPU_FLAVOURS), None, 0))
        region = rnd.choice(REGIONS) if rnd.random() < 0.3 else None
        req = {"id": f"r{i:04d}", "vcpu": vcpu, "mem_gib": mem, "storage_gib": storage, "gpu_model": model,
               "gpu_count": count, "region": region, "count": rnd.choice((1, 1, 2, 3, 4))}
        if rnd.random() < 0.03:
            req["anti_affinity"] = f"ha-{rnd.randrange(max(requests // 100, 1))}"
            req["count"] = min(req["count"], 2)
        out_requests.append(req)
    return {"requests": out_requests, "pools": out_pools, "generator": {"requests": requests, "pools": pools,
                                                                         "seed": seed}}
