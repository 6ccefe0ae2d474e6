"""The resources domain's public face: what the API calls, and what placement reads.

Accounts (``accounts``): create, update, delete, list, get, probe, alerts. Pools (``pools``): list,
get, static pools, unit costs and performance scores. Resources (``inventory``): list (filters,
orphans), get, assign. Synchronising (``sync``): on demand and periodic.

Placement reads pools through ``pools_for_placement`` (or ``pool_capacities`` inside its own
session): one ``PoolCapacity`` per pool a tenant may be placed on, each with per-dimension
``DimensionFigures`` (total, allocated, used, free, utilisation, ``unit_cost`` per unit per hour,
``perf_score`` on ``gpus:<model>`` rows, accelerator kind and use), the pool's ``utilisation``
(its busiest dimension), its instance types, provider, region and health.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import or_
from sqlalchemy.orm import Session

from engine.domains.resources.accounts import (
    create_account,
    delete_account,
    get_account,
    list_accounts,
    list_alerts,
    probe_account,
    probe_due,
    resolve_alert,
    update_account,
)
from engine.domains.resources.inventory import assign, get_resource, list_resources
from engine.domains.resources.models import CloudAccount, ResourcePool
from engine.domains.resources.pools import (
    DimensionFigures,
    PoolCapacity,
    create_static_pool,
    delete_static_pool,
    get_pool,
    list_pools,
    load,
    update_pool,
)
from engine.domains.resources.sync import SyncFailed, sync_account, sync_due

if TYPE_CHECKING:
    from engine.core import Engine

__all__ = ["DimensionFigures", "PoolCapacity", "SyncFailed", "assign", "create_account", "create_static_pool",
           "delete_account", "delete_static_pool", "get_account", "get_pool", "get_resource", "list_accounts",
           "list_alerts", "list_pools", "list_resources", "pool_capacities", "pools_for_placement", "probe_account",
           "probe_due", "resolve_alert", "sync_account", "sync_due", "update_account", "update_pool"]


def pool_capacities(s: Session, tenant_id: str | None, *, healthy_only: bool = True) -> list[PoolCapacity]:
    """The pools ``tenant_id`` can be placed on, read in the caller's session: present pools of the
    platform (no tenant) and of the tenant's own accounts, plus static pools; of enabled accounts,
    and (``healthy_only``) not of an account whose last probe failed. ``tenant_id`` None: the
    platform's pools only."""
    owners = ResourcePool.tenant_id.is_(None) if tenant_id is None else or_(ResourcePool.tenant_id.is_(None),
                                                                            ResourcePool.tenant_id == tenant_id)
    account_ok = or_(ResourcePool.account_id.is_(None), CloudAccount.enabled.is_(True))
    where: list[Any] = [owners, ResourcePool.present.is_(True), account_ok]
    if healthy_only:
        where.append(or_(ResourcePool.account_id.is_(None), CloudAccount.health != "down"))
    return load(s, where)


def pools_for_placement(engine: Engine, tenant_id: str | None, *, healthy_only: bool = True) -> list[PoolCapacity]:
    """``pool_capacities`` in a read transaction of its own."""
    with engine.db.read() as s:
        return pool_capacities(s, tenant_id, healthy_only=healthy_only)
