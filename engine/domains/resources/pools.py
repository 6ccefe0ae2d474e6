"""Resource pools: capacity synchronised from connectors (or typed for a static pool), unit costs
and performance scores set by staff, utilisation computed, and the read placement uses.

A pool's figures are rows of ``resource_pool_dimensions`` in ``connectors.vector`` terms: ``vcpu``,
``memory_gib``, ``disk_gib``, ``gpus`` (every accelerator) and one ``gpus:<model>`` per model.
Synchronising writes ``total`` / ``allocated`` / ``used`` only; ``unit_cost`` and ``perf_score``
are the platform's own and survive every sync. Utilisation of a dimension is allocated / total;
a pool's is that of its busiest dimension.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors import vector
from connectors.base import Capacity, accelerator_profile
from engine import audit, clock
from engine.domains.resources.accounts import field_error, staff_only
from engine.domains.resources.models import CloudAccount, PoolDimension, ResourcePool
from engine.errors import NotFound
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.core import Engine

RATIO = Decimal("0.0001")
BASE_DIMENSIONS = ("vcpu", "memory_gib", "disk_gib")
MAX_AMOUNT = Decimal("1000000000")


# -- figures ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DimensionFigures:
    """One dimension of a pool: amounts in the dimension's unit, ``unit_cost`` per unit per hour."""

    dimension: str
    total: Decimal
    allocated: Decimal
    used: Decimal
    unit_cost: Decimal | None = None
    perf_score: Decimal | None = None
    accelerator_kind: str | None = None
    accelerator_use: str | None = None

    @property
    def free(self) -> Decimal:
        return max(self.total - self.allocated, Decimal(0))

    @property
    def utilisation(self) -> Decimal:
        """allocated / total, 0 for an empty dimension (4 places)."""
        return (self.allocated / self.total).quantize(RATIO) if self.total > 0 else Decimal(0)

    def as_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "unit": _unit(self.dimension), "total": self.total,
                "allocated": self.allocated, "used": self.used, "free": self.free, "utilisation": self.utilisation,
                "unit_cost": self.unit_cost, "perf_score": self.perf_score,
                "accelerator_kind": self.accelerator_kind, "accelerator_use": self.accelerator_use}


@dataclass(frozen=True)
class PoolCapacity:
    """A pool as placement reads it (``service.pools_for_placement``)."""

    pool_id: str
    name: str
    account_id: str | None
    provider_type: str | None
    tenant_id: str | None  # None: a platform pool
    region: str | None
    scope: str
    kind: str
    static: bool
    health: str  # the account's (a static pool: "up")
    dimensions: dict[str, DimensionFigures] = field(default_factory=dict)
    instance_types: tuple[dict[str, Any], ...] = ()
    synced_at: datetime | None = None

    @property
    def utilisation(self) -> Decimal:
        return max((d.utilisation for d in self.dimensions.values()), default=Decimal(0))

    def free(self, dimension: str) -> Decimal:
        found = self.dimensions.get(dimension)
        return found.free if found else Decimal(0)

    def unit_cost(self, dimension: str) -> Decimal | None:
        found = self.dimensions.get(dimension)
        return found.unit_cost if found else None

    def perf_score(self, model: str) -> Decimal | None:
        found = self.dimensions.get(vector.gpu_dimension(model))
        return found.perf_score if found else None

    @property
    def hourly_cost_allocated(self) -> Decimal:
        """What is allocated, priced: sum of allocated x unit cost over priced base and per-model
        dimensions (``gpus`` itself is not priced twice when models are)."""
        priced = [d for d in self.dimensions.values() if d.unit_cost is not None
                  and not (d.dimension == "gpus" and any(k.startswith(vector.GPU_PREFIX) for k in self.dimensions))]
        return sum((d.allocated * d.unit_cost for d in priced), Decimal(0))


def _unit(dimension: str) -> str:
    if dimension in vector.BY_NAME:
        return vector.BY_NAME[dimension].unit
    return "GPU"


def _figures(row: PoolDimension) -> DimensionFigures:
    return DimensionFigures(row.dimension, Decimal(row.total), Decimal(row.allocated), Decimal(row.used),
                            row.unit_cost, row.perf_score, row.accelerator_kind, row.accelerator_use)


def _order(row: PoolDimension) -> tuple[int, str]:
    return vector.dimension_order(row.dimension)


def _capacity(pool: ResourcePool, account: CloudAccount | None, dims: Iterable[PoolDimension]) -> PoolCapacity:
    return PoolCapacity(pool.id, pool.name, pool.account_id, account.provider_type if account else None,
                        pool.tenant_id, pool.region, pool.scope, pool.kind, pool.static,
                        account.health if account else "up",
                        {d.dimension: _figures(d) for d in sorted(dims, key=_order)},
                        tuple((pool.details or {}).get("instance_types", [])), pool.synced_at)


def load(s: Session, where: Iterable[Any]) -> list[PoolCapacity]:
    rows = s.execute(select(ResourcePool, CloudAccount)
                     .outerjoin(CloudAccount, ResourcePool.account_id == CloudAccount.id)
                     .where(*where).order_by(ResourcePool.name, ResourcePool.id)).all()
    ids = [p.id for p, _a in rows]
    dims: dict[str, list[PoolDimension]] = {i: [] for i in ids}
    if ids:
        for d in s.scalars(select(PoolDimension).where(PoolDimension.pool_id.in_(ids))):
            dims[d.pool_id].append(d)
    return [_capacity(p, a, dims[p.id]) for p, a in rows]


def view(cap: PoolCapacity) -> dict[str, Any]:
    return {"id": cap.pool_id, "name": cap.name, "account_id": cap.account_id, "provider_type": cap.provider_type,
            "tenant_id": cap.tenant_id, "region": cap.region, "scope": cap.scope, "kind": cap.kind,
            "static": cap.static, "health": cap.health, "utilisation": cap.utilisation,
            "hourly_cost_allocated": cap.hourly_cost_allocated,
            "dimensions": [d.as_dict() for d in cap.dimensions.values()],
            "instance_types": list(cap.instance_types), "synced_at": cap.synced_at}


# -- synchronising ------------------------------------------------------------------------------------

def _instance_types(cap: Capacity) -> list[dict[str, Any]]:
    return [{"name": t.name, "vcpu": t.vcpu, "memory_gib": str(t.memory_gib), "disk_gib": str(t.disk_gib),
             "gpus_by_model": dict(t.gpus_by_model)} for t in cap.instance_types]


def apply_capacity(s: Session, account: CloudAccount, capacities: list[Capacity], now: datetime) -> list[str]:
    """Upsert one pool per capacity scope of ``account`` and its dimension figures; pools whose
    scope was not reported are kept but marked not present. Returns the pool ids synced. The caller
    holds the account row locked."""
    pools = {p.scope: p for p in s.scalars(select(ResourcePool).where(ResourcePool.account_id == account.id))}
    seen = []
    for cap in capacities:
        pool = pools.get(cap.scope)
        if pool is None:
            pool = ResourcePool(account_id=account.id, tenant_id=account.tenant_id, scope=cap.scope,
                                name=f"{account.name}/{cap.scope}"[:200], created_at=now)
            s.add(pool)
            s.flush()
            pools[cap.scope] = pool
        pool.kind, pool.region, pool.present, pool.synced_at, pool.updated_at = cap.kind, account.region, True, now, now
        pool.tenant_id = account.tenant_id
        pool.details = {**dict(cap.details), "instance_types": _instance_types(cap)}
        _write_dimensions(s, pool.id, cap)
        seen.append(pool.id)
    for pool in pools.values():
        if pool.id not in seen and pool.present:
            pool.present, pool.updated_at = False, now
    return seen


def _write_dimensions(s: Session, pool_id: str, cap: Capacity) -> None:
    existing = {d.dimension: d for d in s.scalars(select(PoolDimension).where(PoolDimension.pool_id == pool_id))}
    reported = cap.dimensions()
    profiles = {a.dimension: (str(a.kind), str(a.use)) for a in cap.accelerators}
    for name, amounts in reported.items():
        row = existing.get(name)
        if row is None:
            row = PoolDimension(pool_id=pool_id, dimension=name)
            s.add(row)
        row.total, row.allocated, row.used = amounts.total, amounts.allocated, amounts.used
        if name in profiles:
            row.accelerator_kind, row.accelerator_use = profiles[name]
    for name, row in existing.items():
        if name not in reported:  # no longer offered: nothing there, prices kept for when it returns
            row.total = row.allocated = row.used = Decimal(0)


# -- reading -------------------------------------------------------------------------------------------

def visible(principal: Principal) -> Any:
    """Pools ``principal`` may see: staff all, a tenant's users their own accounts' pools."""
    if principal.is_platform:
        return ResourcePool.id.is_not(None)
    return ResourcePool.tenant_id == principal.tenant_id


def list_pools(engine: Engine, principal: Principal, *, account_id: str | None = None, region: str | None = None,
               gpu_model: str | None = None, include_absent: bool = False, offset: int = 0,
               limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    where = [visible(principal)]
    if account_id:
        where.append(ResourcePool.account_id == account_id)
    if region:
        where.append(ResourcePool.region == region)
    if not include_absent:
        where.append(ResourcePool.present.is_(True))
    if gpu_model:
        where.append(ResourcePool.id.in_(select(PoolDimension.pool_id).where(
            PoolDimension.dimension == vector.gpu_dimension(gpu_model), PoolDimension.total > 0)))
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(ResourcePool).where(*where)) or 0
        ids = s.scalars(select(ResourcePool.id).where(*where).order_by(ResourcePool.name, ResourcePool.id)
                        .offset(offset).limit(limit)).all()
        return [view(p) for p in load(s, [ResourcePool.id.in_(ids)])], total


def get_pool(engine: Engine, principal: Principal, pool_id: str) -> dict[str, Any]:
    with engine.db.read() as s:
        found = load(s, [ResourcePool.id == pool_id, visible(principal)])
        if not found:
            raise NotFound(f"no resource pool {pool_id}")
        return view(found[0])


# -- changing: static pools, prices, scores ----------------------------------------------------------

def _amount(raw: Any, name: str, *, allow_none: bool = False) -> Decimal | None:
    if raw is None and allow_none:
        return None
    if isinstance(raw, (bool, float)) or raw is None:
        raise field_error(name, "a decimal number as text or an integer")
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError) as exc:
        raise field_error(name, "a decimal number") from exc
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
        raise field_error(name, f"between 0 and {MAX_AMOUNT}")
    return value


def _dimension(name: Any, where: str) -> str:
    if not isinstance(name, str) or not vector.is_dimension(name) or name in ("instances", "eips"):
        raise field_error(where, f"{name!r} is not a pool dimension (vcpu, memory_gib, disk_gib, gpus, gpus:<model>)")
    return name


def create_static_pool(engine: Engine, principal: Principal, *, name: str, region: str | None = None,
                       dimensions: dict[str, Any], ip: str | None = None) -> dict[str, Any]:
    """A pool typed by hand (capacity no connector reports: a rack, a reservation). Staff only.
    ``dimensions``: {dimension: {total, allocated?, used?, unit_cost?, perf_score?}}."""
    staff_only(principal)
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise field_error("name", "non-empty text of at most 200 characters")
    if not isinstance(dimensions, dict) or not dimensions:
        raise field_error("dimensions", "an object of dimension -> {total, allocated, used, unit_cost, perf_score}")
    rows = []
    for dim, raw in dimensions.items():
        where = f"dimensions.{dim}"
        _dimension(dim, where)
        if not isinstance(raw, dict):
            raise field_error(where, "an object")
        total = _amount(raw.get("total"), f"{where}.total")
        allocated = _amount(raw.get("allocated", 0), f"{where}.allocated")
        used = _amount(raw.get("used", 0), f"{where}.used")
        if allocated > total or used > total:
            raise field_error(where, "allocated and used cannot exceed total")
        model = vector.gpu_model_of(dim)
        kind, use = accelerator_profile(model) if model else (None, None)
        rows.append(PoolDimension(dimension=dim, total=total, allocated=allocated, used=used,
                                  unit_cost=_amount(raw.get("unit_cost"), f"{where}.unit_cost", allow_none=True),
                                  perf_score=_amount(raw.get("perf_score"), f"{where}.perf_score", allow_none=True),
                                  accelerator_kind=str(kind) if kind else None,
                                  accelerator_use=str(use) if use else None))
    now = clock.now()
    with engine.db.write() as s:
        pool = ResourcePool(name=name.strip(), scope=f"static:{name.strip()}"[:200], kind="static", static=True,
                            region=region, created_at=now, updated_at=now, synced_at=None)
        s.add(pool)
        s.flush()
        for row in rows:
            row.pool_id = pool.id
            s.add(row)
        s.flush()
        audit.record(s, action="resource-pool.create", actor=principal.username, target_type="resource-pool",
                     target_id=pool.id, detail={"name": pool.name, "dimensions": sorted(dimensions)}, ip=ip)
        return view(load(s, [ResourcePool.id == pool.id])[0])


def update_pool(engine: Engine, principal: Principal, pool_id: str, *, name: str | None = None,
                unit_costs: dict[str, Any] | None = None, perf_scores: dict[str, Any] | None = None,
                dimensions: dict[str, Any] | None = None, ip: str | None = None) -> dict[str, Any]:
    """Rename; set unit costs (per dimension per hour; null clears) and performance scores (per
    accelerator model). Staff, or the owning tenant for its own account's pools. ``dimensions``
    (totals) only for a static pool: a synchronised pool's capacity comes from its connector."""
    with engine.db.write() as s:
        pool = s.scalars(select(ResourcePool).where(ResourcePool.id == pool_id, visible(principal))
                         .with_for_update()).first()
        if pool is None:
            raise NotFound(f"no resource pool {pool_id}")
        if pool.static and not principal.is_platform:
            staff_only(principal)
        existing = {d.dimension: d for d in s.scalars(select(PoolDimension).where(PoolDimension.pool_id == pool.id))}
        changed: dict[str, Any] = {}
        if name is not None:
            if not isinstance(name, str) or not name.strip() or len(name) > 200:
                raise field_error("name", "non-empty text of at most 200 characters")
            pool.name = changed["name"] = name.strip()
        for dim, raw in (unit_costs or {}).items():
            _dimension(dim, f"unit_costs.{dim}")
            row = existing.get(dim) or _new_dimension(s, pool.id, dim, existing)
            row.unit_cost = _amount(raw, f"unit_costs.{dim}", allow_none=True)
            changed.setdefault("unit_costs", {})[dim] = None if row.unit_cost is None else str(row.unit_cost)
        for model, raw in (perf_scores or {}).items():
            problem = vector.model_problem(model)
            if problem:
                raise field_error(f"perf_scores.{model}", problem)
            dim = vector.gpu_dimension(model)
            row = existing.get(dim) or _new_dimension(s, pool.id, dim, existing)
            row.perf_score = _amount(raw, f"perf_scores.{model}", allow_none=True)
            changed.setdefault("perf_scores", {})[model] = None if row.perf_score is None else str(row.perf_score)
        if dimensions:
            if not pool.static:
                raise field_error("dimensions", "a synchronised pool's capacity comes from its connector; sync it")
            for dim, raw in dimensions.items():
                where = f"dimensions.{dim}"
                _dimension(dim, where)
                if not isinstance(raw, dict):
                    raise field_error(where, "an object")
                row = existing.get(dim) or _new_dimension(s, pool.id, dim, existing)
                for part in ("total", "allocated", "used"):
                    if part in raw:
                        setattr(row, part, _amount(raw[part], f"{where}.{part}"))
                if row.allocated > row.total or row.used > row.total:
                    raise field_error(where, "allocated and used cannot exceed total")
            changed["dimensions"] = sorted(dimensions)
        pool.updated_at = clock.now()
        s.flush()
        audit.record(s, action="resource-pool.update", actor=principal.username, tenant_id=pool.tenant_id,
                     target_type="resource-pool", target_id=pool.id, detail=changed, ip=ip)
        return view(load(s, [ResourcePool.id == pool.id])[0])


def _new_dimension(s: Session, pool_id: str, dim: str, existing: dict[str, PoolDimension]) -> PoolDimension:
    model = vector.gpu_model_of(dim)
    kind, use = accelerator_profile(model) if model else (None, None)
    row = PoolDimension(pool_id=pool_id, dimension=dim, total=Decimal(0), allocated=Decimal(0), used=Decimal(0),
                        accelerator_kind=str(kind) if kind else None, accelerator_use=str(use) if use else None)
    s.add(row)
    existing[dim] = row
    return row


def delete_static_pool(engine: Engine, principal: Principal, pool_id: str, *, ip: str | None = None) -> None:
    staff_only(principal)
    with engine.db.write() as s:
        pool = s.get(ResourcePool, pool_id)
        if pool is None:
            raise NotFound(f"no resource pool {pool_id}")
        if not pool.static:
            raise field_error("pool_id", "only a static pool is deleted by hand; a synchronised one goes with "
                                         "its account")
        audit.record(s, action="resource-pool.delete", actor=principal.username, target_type="resource-pool",
                     target_id=pool.id, detail={"name": pool.name}, ip=ip)
        s.delete(pool)

