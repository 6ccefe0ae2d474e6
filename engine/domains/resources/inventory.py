"""Resources at the providers, as the platform knows them: imported by a sync, recorded when a
process creates one, assigned to tenants and business systems, and listed (orphans included).

An orphan is a resource that counts in no pool (its scope has none) or belongs to no tenant. A
resource found in a tenant's own account belongs to that tenant; one found in a platform account
belongs to nobody until staff assign it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from connectors import vector
from connectors.base import Resource, Status
from engine import audit, clock
from engine.domains.catalog.service import like_pattern
from engine.domains.resources.accounts import field_error, staff_only
from engine.domains.resources.models import CloudAccount, CloudResource, ResourcePool
from engine.errors import NotFound
from engine.models import BusinessSystem, Tenant
from engine.principal import Principal
from engine.tenancy.scope import scope_where

if TYPE_CHECKING:
    from engine.core import Engine

STATUSES = tuple(str(s) for s in Status)


def view(row: CloudResource) -> dict[str, Any]:
    return {"id": row.id, "account_id": row.account_id, "pool_id": row.pool_id, "tenant_id": row.tenant_id,
            "business_system_id": row.business_system_id, "provider_id": row.provider_id, "name": row.name,
            "status": row.status, "client_token": row.client_token, "scope": row.scope, "flavor": row.flavor,
            "vcpu": row.vcpu, "memory_gib": row.memory_gib, "disk_gib": row.disk_gib, "gpu_count": row.gpu_count,
            "gpus_by_model": dict(row.gpus_by_model or {}), "addresses": list(row.addresses or []),
            "origin": row.origin, "orphan": row.pool_id is None or row.tenant_id is None, "seen_at": row.seen_at,
            "created_at": row.created_at, "updated_at": row.updated_at}


# -- writing what a provider reports ------------------------------------------------------------------

def _fill(row: CloudResource, found: Resource, pool_id: str | None, now: datetime) -> None:
    spec = found.spec
    gpus = {m: int(n) for m, n in spec.gpus_by_model.items() if n}
    row.name, row.status, row.scope, row.flavor = found.name[:200], str(found.status), found.scope, spec.flavor
    row.vcpu, row.memory_gib, row.disk_gib = spec.vcpu, Decimal(spec.memory_gib), Decimal(spec.disk_gib)
    row.gpus_by_model, row.gpu_count, row.gpu_model = gpus, sum(gpus.values()), vector.models_label(gpus)
    row.instances, row.eips = 1, 0
    row.addresses, row.details = list(found.addresses), dict(found.details)
    row.pool_id, row.seen_at, row.updated_at = pool_id, now, now
    if row.client_token is None and found.client_token:
        row.client_token = found.client_token


def _pool_ids(s: Session, account: CloudAccount) -> dict[str, str]:
    q = select(ResourcePool.scope, ResourcePool.id).where(ResourcePool.account_id == account.id)
    return dict(s.execute(q).all())


def record(s: Session, account: CloudAccount, found: Resource, now: datetime, *, tenant_id: str | None,
           origin: str) -> CloudResource:
    """Insert or update the row of one resource of ``account``; a new row belongs to ``tenant_id``."""
    row = s.scalars(select(CloudResource).where(CloudResource.account_id == account.id,
                                                CloudResource.provider_id == found.provider_id)).first()
    if row is None:
        row = CloudResource(account_id=account.id, provider_id=found.provider_id, tenant_id=tenant_id, origin=origin,
                            created_at=now)
        s.add(row)
    _fill(row, found, _pool_ids(s, account).get(found.scope or ""), now)
    s.flush()
    return row


def apply_resources(s: Session, account: CloudAccount, found: list[Resource], now: datetime) -> dict[str, int]:
    """Import what the provider lists: new ones are recorded (owned by the account's tenant, or by
    nobody in a platform account), known ones refreshed, and known ones it no longer lists marked
    deleted. Returns counts. The caller holds the account row locked."""
    rows = {r.provider_id: r for r in s.scalars(select(CloudResource).where(CloudResource.account_id == account.id))}
    pools = _pool_ids(s, account)
    counts = {"imported": 0, "updated": 0, "gone": 0}
    for item in found:
        row = rows.get(item.provider_id)
        if row is None:
            row = CloudResource(account_id=account.id, provider_id=item.provider_id, tenant_id=account.tenant_id,
                                origin="imported", created_at=now)
            s.add(row)
            counts["imported"] += 1
        else:
            counts["updated"] += 1
        _fill(row, item, pools.get(item.scope or ""), now)
    listed = {i.provider_id for i in found}
    for provider_id, row in rows.items():
        if provider_id not in listed and row.status != str(Status.DELETED):
            row.status, row.updated_at = str(Status.DELETED), now
            counts["gone"] += 1
    s.flush()
    return counts


# -- reading -------------------------------------------------------------------------------------------

def visible(principal: Principal) -> Any:
    """Resources ``principal`` may see: staff all, a tenant's users those assigned to their tenant."""
    if principal.is_platform:
        return CloudResource.id.is_not(None)
    return CloudResource.tenant_id == principal.tenant_id


def list_resources(engine: Engine, principal: Principal, *, account_id: str | None = None,
                   pool_id: str | None = None, status: str | None = None, tenant_id: str | None = None,
                   business_system_id: str | None = None, q: str | None = None, orphans: bool = False,
                   include_deleted: bool = False, offset: int = 0, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    """``orphans``: only resources in no pool or of no tenant. A tenant's user sees what the data
    scope of ``resource:read`` gives (``mine``: resources of the business systems they belong to)."""
    where = [visible(principal), *scope_where(engine.authorizer, principal, "resource:read", CloudResource)]
    if account_id:
        where.append(CloudResource.account_id == account_id)
    if pool_id:
        where.append(CloudResource.pool_id == pool_id)
    if status:
        if status not in STATUSES:
            raise field_error("status", f"one of {', '.join(STATUSES)}")
        where.append(CloudResource.status == status)
    elif not include_deleted:
        where.append(CloudResource.status != str(Status.DELETED))
    if tenant_id and principal.is_platform:
        where.append(CloudResource.tenant_id == tenant_id)
    if business_system_id:
        where.append(CloudResource.business_system_id == business_system_id)
    if q:
        where.append(func.lower(CloudResource.name).like(like_pattern(q), escape="\\"))
    if orphans:
        where.append(or_(CloudResource.pool_id.is_(None), CloudResource.tenant_id.is_(None)))
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(CloudResource).where(*where)) or 0
        rows = s.scalars(select(CloudResource).where(*where).order_by(CloudResource.name, CloudResource.id)
                         .offset(offset).limit(limit)).all()
        return [view(r) for r in rows], total


def get_resource(engine: Engine, principal: Principal, resource_id: str) -> dict[str, Any]:
    with engine.db.read() as s:
        row = s.scalars(select(CloudResource).where(
            CloudResource.id == resource_id, visible(principal),
            *scope_where(engine.authorizer, principal, "resource:read", CloudResource))).first()
        if row is None:
            raise NotFound(f"no resource {resource_id}")
        return view(row)


# -- assigning ----------------------------------------------------------------------------------------

_UNSET: Any = object()


def assign(engine: Engine, principal: Principal, resource_id: str, *, tenant_id: Any = _UNSET,
           business_system_id: Any = _UNSET, ip: str | None = None) -> dict[str, Any]:
    """Give a resource to a tenant (staff only; None takes it back) and/or a business system of its
    tenant (staff, or the tenant's own users for its resources)."""
    with engine.db.write() as s:
        row = s.scalars(select(CloudResource).where(CloudResource.id == resource_id, visible(principal))
                        .with_for_update()).first()
        if row is None:
            raise NotFound(f"no resource {resource_id}")
        before = {"tenant_id": row.tenant_id, "business_system_id": row.business_system_id}
        if tenant_id is not _UNSET and tenant_id != row.tenant_id:
            staff_only(principal)
            if tenant_id is not None and (not isinstance(tenant_id, str) or s.get(Tenant, tenant_id) is None):
                raise field_error("tenant_id", "no such tenant")
            row.tenant_id = tenant_id
            if business_system_id is _UNSET:
                business_system_id = None  # a system of the old tenant cannot stay
        if business_system_id is not _UNSET:
            if business_system_id is not None:
                system = s.get(BusinessSystem, business_system_id) if isinstance(business_system_id, str) else None
                if system is None or row.tenant_id is None or system.tenant_id != row.tenant_id:
                    raise field_error("business_system_id", "no such business system in the resource's tenant")
            row.business_system_id = business_system_id
        row.updated_at = clock.now()
        s.flush()
        after = {"tenant_id": row.tenant_id, "business_system_id": row.business_system_id}
        audit.record(s, action="resource.assign", actor=principal.username, tenant_id=row.tenant_id,
                     target_type="resource", target_id=row.id, detail={"before": before, "after": after}, ip=ip)
        return view(row)
