"""Shapes: identical requests folded into one, so the MILP has one integer per (shape, pool).

Two requests with the same size, accelerator, region and anti-affinity group are interchangeable:
any plan can swap their copies without changing cost, performance or utilisation. So the model
counts copies of a *shape* per pool (``x[s, p]`` in 0..count), not a binary per copy and pool;
1,000 requests over 50 pools become a few hundred shapes and a few thousand integers, whose LP
relaxation is much tighter than the binary one. ``split`` hands each shape's copies back to its
requests in input order.

A (shape, pool) pair exists only where a copy may go: the pool is in the shape's region (or the
shape names none), has the shape's accelerator model, and can hold at least one copy in what is
left. Everything a stage's objective needs per copy (hourly cost, performance, what it uses) is
computed here once, as floats for the model and as Decimal for the exact report.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.domains.placement.instance import BASE_DIMS, Instance, Pool, Request

ShapeKey = tuple[Decimal, Decimal, Decimal, str | None, int, str | None, str | None]


@dataclass(frozen=True)
class Shape:
    index: int
    proto: Request  # the first request of the shape: its sizes stand for all
    requests: tuple[Request, ...]
    count: int  # copies over all its requests

    @property
    def gpu_dim(self) -> str | None:
        return f"gpu:{self.proto.gpu_model}" if self.proto.gpu_model else None

    def dims(self) -> list[str]:
        """The dimensions a copy uses (a GPU model only when it has one)."""
        return [*(d for d in BASE_DIMS if self.proto.need(d) > 0), *([self.gpu_dim] if self.gpu_dim else [])]


def key(q: Request) -> ShapeKey:
    return (q.vcpu, q.mem_gib, q.storage_gib, q.gpu_model, q.gpu_count, q.region, q.anti_affinity)


def aggregate(requests: tuple[Request, ...]) -> list[Shape]:
    groups: dict[ShapeKey, list[Request]] = {}
    for q in requests:
        groups.setdefault(key(q), []).append(q)
    return [Shape(i, rs[0], tuple(rs), sum(r.count for r in rs)) for i, rs in enumerate(groups.values())]


def copy_cost(q: Request, p: Pool) -> Decimal:
    """One copy's hourly price in ``p``."""
    cost = sum((q.need(d) * p.unit_cost.get(d) for d in BASE_DIMS), Decimal(0))
    if q.gpu_model:
        cost += q.gpu_count * p.unit_cost.gpu.get(q.gpu_model, Decimal(0))
    return cost


def copy_perf(q: Request, p: Pool) -> Decimal:
    """One copy's performance in ``p``: GPUs times the pool's score for the model, or vCPUs times its
    CPU score for a CPU-only request."""
    if q.gpu_model:
        return q.gpu_count * p.perf_gpu.get(q.gpu_model, Decimal(0))
    return q.vcpu * p.perf_cpu


def in_region(q: Request, p: Pool) -> bool:
    return q.region is None or q.region == p.region


def has_model(q: Request, p: Pool) -> bool:
    return q.gpu_model is None or p.total.gpu.get(q.gpu_model, Decimal(0)) > 0


def fits(q: Request, p: Pool) -> int:
    """How many copies of ``q`` fit in what ``p`` has left (each dimension alone)."""
    most = None
    for dim in [*BASE_DIMS, *([f"gpu:{q.gpu_model}"] if q.gpu_model else [])]:
        need = q.need(dim)
        if need > 0:
            n = int(p.capacity.get(dim) // need)
            most = n if most is None else min(most, n)
    return most if most is not None else 0


@dataclass(frozen=True)
class Pair:
    shape: int
    pool: int
    upper: int  # copies that can go there at most
    cost: float
    perf: float


def pairs(instance: Instance, shapes: list[Shape]) -> list[Pair]:
    """Every (shape, pool) where a copy may go, with its bound, cost and performance per copy."""
    out = []
    for s in shapes:
        q = s.proto
        limit = 1 if q.anti_affinity else s.count
        for j, p in enumerate(instance.pools):
            if in_region(q, p) and has_model(q, p):
                n = min(fits(q, p), limit)
                if n > 0:
                    out.append(Pair(s.index, j, n, float(copy_cost(q, p)), float(copy_perf(q, p))))
    return out


def split(shape: Shape, copies: dict[int, int]) -> list[tuple[Request, int, int]]:
    """(request, pool index, copies): ``copies`` (pool index -> copies of the shape) handed to the
    shape's requests in input order, each request filled before the next."""
    out = []
    queue = [[q, q.count] for q in shape.requests]
    k = 0
    for pool, n in sorted(copies.items()):
        while n > 0 and k < len(queue):
            take = min(n, queue[k][1])
            out.append((queue[k][0], pool, take))
            queue[k][1] -= take
            n -= take
            if queue[k][1] == 0:
                k += 1
    return out
