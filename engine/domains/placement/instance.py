"""A placement instance: the JSON the CLI reads and the operator builds, parsed and checked.

One JSON object with ``requests`` and ``pools`` (and an optional ``quota``: what the tenant may
still use, all pools together); every other top-level key is ignored. Amounts are read as
``Decimal`` so the reported cost is exact; the MILP works on floats built from them.

A bad instance raises ``InstanceError`` listing every problem as ``{field, message}`` with the
field as a path (``requests[3].vcpu``), the way the API's 4xx bodies name fields. Only what is
malformed is refused: a request that no pool can hold is valid input and gets an explanation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

BASE_DIMS: tuple[str, ...] = ("vcpu", "mem_gib", "storage_gib")  # besides GPUs per model
UTIL_DIMS: tuple[str, ...] = ("vcpu", "mem_gib")  # balance counts these and each accelerator model
MAX_ITEMS = 100_000


class InstanceError(ValueError):
    """The instance is malformed; ``errors`` is a list of ``{field, message}``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0] if errors else {"field": "", "message": "invalid instance"}
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first['field']}: {first['message']}{more}")
        self.errors = errors


@dataclass(frozen=True)
class Vector:
    """Amounts per dimension: ``vcpu``, ``mem_gib``, ``storage_gib`` and GPUs per model."""

    vcpu: Decimal = Decimal(0)
    mem_gib: Decimal = Decimal(0)
    storage_gib: Decimal = Decimal(0)
    gpu: Mapping[str, Decimal] = field(default_factory=dict)

    def get(self, dim: str) -> Decimal:
        """``dim`` is a base dimension or ``gpu:<model>``."""
        if dim.startswith("gpu:"):
            return self.gpu.get(dim[4:], Decimal(0))
        return getattr(self, dim)

    def dims(self) -> list[str]:
        return [*BASE_DIMS, *(f"gpu:{m}" for m in sorted(self.gpu))]


@dataclass(frozen=True)
class Request:
    id: str
    vcpu: Decimal
    mem_gib: Decimal
    storage_gib: Decimal
    gpu_model: str | None
    gpu_count: int
    region: str | None
    count: int
    anti_affinity: str | None = None  # copies in one group go to different pools

    def need(self, dim: str) -> Decimal:
        """What one copy needs of ``dim`` (a base dimension or ``gpu:<model>``)."""
        if dim.startswith("gpu:"):
            return Decimal(self.gpu_count) if dim[4:] == self.gpu_model else Decimal(0)
        return getattr(self, dim)


@dataclass(frozen=True)
class Pool:
    id: str
    provider: str
    region: str
    capacity: Vector  # what is left
    total: Vector
    utilisation: Vector  # share already used, 0..1
    unit_cost: Vector  # per hour
    perf_cpu: Decimal  # per vCPU
    perf_gpu: Mapping[str, Decimal]  # per GPU of a model

    def util_dims(self) -> list[str]:
        """The dimensions balance counts for this pool: vCPU, memory, each accelerator model it has."""
        return [*UTIL_DIMS, *(f"gpu:{m}" for m in sorted(self.total.gpu) if self.total.gpu[m] > 0)]


@dataclass(frozen=True)
class Instance:
    requests: tuple[Request, ...]
    pools: tuple[Pool, ...]
    quota: Mapping[str, Decimal] | None = None  # dimension -> what the tenant may still use over all pools;
    # a dimension not named has no limit (``vcpu``, ``mem_gib``, ``storage_gib``, ``gpu:<model>``)

    def pool(self, pool_id: str) -> Pool:
        return next(p for p in self.pools if p.id == pool_id)


class _Reader:
    """Collects every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def fail(self, where: str, message: str) -> None:
        self.errors.append({"field": where, "message": message})

    def text(self, obj: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
        value = obj.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            self.fail(f"{where}.{key}", "must be a non-empty string of at most 200 characters"
                      + (" or null" if optional else ""))
            return None
        return value

    def number(self, value: Any, where: str, *, whole: bool = False, most: Decimal | None = None) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            self.fail(where, "must be a number")
            return Decimal(0)
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            self.fail(where, "must be a number")
            return Decimal(0)
        if not amount.is_finite() or amount < 0:
            self.fail(where, "must be a finite number, zero or more")
            return Decimal(0)
        if whole and amount != amount.to_integral_value():
            self.fail(where, "must be a whole number")
        if most is not None and amount > most:
            self.fail(where, f"must be at most {most}")
        return amount

    def vector(self, obj: Any, where: str, *, most: Decimal | None = None, required: bool = True) -> Vector:
        if obj is None and not required:
            return Vector()
        if not isinstance(obj, Mapping):
            self.fail(where, "must be an object with vcpu, mem_gib, storage_gib and gpu")
            return Vector()
        base = {d: self.number(obj.get(d, 0), f"{where}.{d}", most=most) for d in BASE_DIMS}
        gpus = obj.get("gpu") or {}
        if not isinstance(gpus, Mapping):
            self.fail(f"{where}.gpu", "must be an object of accelerator model to amount")
            gpus = {}
        per_model = {}
        for model, amount in gpus.items():
            if not isinstance(model, str) or not model.strip():
                self.fail(f"{where}.gpu", "accelerator models must be non-empty strings")
                continue
            per_model[model] = self.number(amount, f"{where}.gpu.{model}", most=most)
        return Vector(gpu=per_model, **base)


def _request(r: _Reader, obj: Any, i: int) -> Request | None:
    where = f"requests[{i}]"
    if not isinstance(obj, Mapping):
        r.fail(where, "must be an object")
        return None
    before = len(r.errors)
    rid = r.text(obj, "id", where)
    model = r.text(obj, "gpu_model", where, optional=True)
    gpu_count = r.number(obj.get("gpu_count", 0), f"{where}.gpu_count", whole=True)
    if gpu_count and model is None:
        r.fail(f"{where}.gpu_model", "names the accelerator model when gpu_count is above zero")
    count = r.number(obj.get("count", 1), f"{where}.count", whole=True, most=Decimal(MAX_ITEMS))
    if count < 1:
        r.fail(f"{where}.count", "must be at least 1")
    req = Request(
        id=rid or "", vcpu=r.number(obj.get("vcpu"), f"{where}.vcpu"),
        mem_gib=r.number(obj.get("mem_gib", 0), f"{where}.mem_gib"),
        storage_gib=r.number(obj.get("storage_gib", 0), f"{where}.storage_gib"),
        gpu_model=model if gpu_count else None, gpu_count=int(gpu_count),
        region=r.text(obj, "region", where, optional=True), count=int(count),
        anti_affinity=r.text(obj, "anti_affinity", where, optional=True))
    if req.vcpu == 0 and req.mem_gib == 0 and req.gpu_count == 0 and len(r.errors) == before:
        r.fail(f"{where}.vcpu", "a request needs some vCPU, memory or GPUs")
    return req if len(r.errors) == before else None


def _pool(r: _Reader, obj: Any, i: int) -> Pool | None:
    where = f"pools[{i}]"
    if not isinstance(obj, Mapping):
        r.fail(where, "must be an object")
        return None
    before = len(r.errors)
    pid, provider, region = r.text(obj, "id", where), r.text(obj, "provider", where), r.text(obj, "region", where)
    capacity, total = r.vector(obj.get("capacity"), f"{where}.capacity"), r.vector(obj.get("total"), f"{where}.total")
    for dim in capacity.dims():
        if capacity.get(dim) > total.get(dim):
            r.fail(f"{where}.capacity.{dim.replace('gpu:', 'gpu.')}", "what is left cannot exceed the total")
    if "utilisation" in obj:
        util = r.vector(obj.get("utilisation"), f"{where}.utilisation", most=Decimal(1))
    else:  # not given: what is not left of the total is used
        util = Vector(gpu={m: (total.gpu[m] - capacity.get(f"gpu:{m}")) / total.gpu[m]
                           for m in total.gpu if total.gpu[m] > 0},
                      **{d: (total.get(d) - capacity.get(d)) / total.get(d) if total.get(d) else Decimal(0)
                         for d in BASE_DIMS})
    cost = r.vector(obj.get("unit_cost"), f"{where}.unit_cost")
    perf = obj.get("perf") or {}
    if not isinstance(perf, Mapping):
        r.fail(f"{where}.perf", "must be an object with cpu and gpu")
        perf = {}
    perf_gpu_raw = perf.get("gpu") or {}
    if not isinstance(perf_gpu_raw, Mapping):
        r.fail(f"{where}.perf.gpu", "must be an object of accelerator model to score")
        perf_gpu_raw = {}
    perf_gpu = {str(m): r.number(v, f"{where}.perf.gpu.{m}") for m, v in perf_gpu_raw.items()}
    for model in capacity.gpu:
        if capacity.gpu[model] > 0 and model not in cost.gpu:
            r.fail(f"{where}.unit_cost.gpu.{model}", "a pool with this accelerator model prices it")
    if len(r.errors) != before:
        return None
    return Pool(id=pid or "", provider=provider or "", region=region or "", capacity=capacity, total=total,
                utilisation=util, unit_cost=cost, perf_cpu=r.number(perf.get("cpu", 0), f"{where}.perf.cpu"),
                perf_gpu=perf_gpu)


def _unique(r: _Reader, ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for i, one in enumerate(ids):
        if one in seen:
            r.fail(f"{what}[{i}].id", f"{one!r} appears twice")
        seen.add(one)


def _quota(r: _Reader, raw: Any) -> dict[str, Decimal] | None:
    if raw is None:
        return None
    given = r.vector(raw, "quota")
    if not isinstance(raw, Mapping):
        return None
    gpus = raw.get("gpu") if isinstance(raw.get("gpu"), Mapping) else {}
    return {**{d: given.get(d) for d in BASE_DIMS if d in raw}, **{f"gpu:{m}": given.gpu[m] for m in gpus
                                                                    if m in given.gpu}}


def parse(data: Any) -> Instance:
    """The instance in ``data`` (decoded JSON); raises InstanceError naming every bad field."""
    r = _Reader()
    if not isinstance(data, Mapping):
        raise InstanceError([{"field": "", "message": "the instance must be a JSON object with requests and pools"}])
    lists = {}
    for key in ("requests", "pools"):
        value = data.get(key)
        if not isinstance(value, list):
            r.fail(key, "must be a list")
            value = []
        elif len(value) > MAX_ITEMS:
            r.fail(key, f"holds at most {MAX_ITEMS} entries")
            value = []
        lists[key] = value
    requests = [q for i, o in enumerate(lists["requests"]) if (q := _request(r, o, i)) is not None]
    pools = [p for i, o in enumerate(lists["pools"]) if (p := _pool(r, o, i)) is not None]
    quota = _quota(r, data.get("quota"))
    _unique(r, [q.id for q in requests], "requests")
    _unique(r, [p.id for p in pools], "pools")
    if r.errors:
        raise InstanceError(r.errors)
    return Instance(tuple(requests), tuple(pools), quota)


def dump(instance: Instance) -> dict[str, Any]:
    """The instance as JSON again (numbers as strings: exact), so a what-if can be saved and re-run."""

    def vec(v: Vector) -> dict[str, Any]:
        return {**{d: str(v.get(d)) for d in BASE_DIMS}, "gpu": {m: str(a) for m, a in v.gpu.items()}}

    out: dict[str, Any] = {
        "requests": [{"id": q.id, "vcpu": str(q.vcpu), "mem_gib": str(q.mem_gib), "storage_gib": str(q.storage_gib),
                      "gpu_model": q.gpu_model, "gpu_count": q.gpu_count, "region": q.region, "count": q.count,
                      **({"anti_affinity": q.anti_affinity} if q.anti_affinity else {})} for q in instance.requests],
        "pools": [{"id": p.id, "provider": p.provider, "region": p.region, "capacity": vec(p.capacity),
                   "total": vec(p.total), "utilisation": vec(p.utilisation), "unit_cost": vec(p.unit_cost),
                   "perf": {"cpu": str(p.perf_cpu), "gpu": {m: str(s) for m, s in p.perf_gpu.items()}}}
                  for p in instance.pools]}
    if instance.quota is not None:
        out["quota"] = {**{d: str(a) for d, a in instance.quota.items() if not d.startswith("gpu:")},
                        "gpu": {d[4:]: str(a) for d, a in instance.quota.items() if d.startswith("gpu:")}}
    return out
