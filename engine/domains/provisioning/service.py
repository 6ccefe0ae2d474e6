"""Provisioning units on a session: planning an order's units, moving a unit through its states,
choosing another pool, and what an order's lines look like (which units run, which wait).

Every function takes the tenant it works for and never reaches another tenant's rows; the port
(``ports``) decides which tenant and order a process instance may name.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors import vector
from engine import audit, clock
from engine.domains.orders import service as orders
from engine.domains.orders.models import Order, OrderItem
from engine.domains.provisioning.models import ProvisioningUnit
from engine.domains.resources.pools import PoolCapacity
from engine.domains.resources.service import pool_capacities
from engine.models.base import new_id

ORDER_DONE = ("running", "partial", "failed")
WAITING = ("planned", "creating", "work_order")


class PlanError(ValueError):
    """A placement choice that does not fit the order (names the field)."""


def order_items(s: Session, order: Order) -> list[OrderItem]:
    """The order's lines in order: those the transaction holds (``orders.held``), else read."""
    known = orders.held(s, order.id, order.tenant_id)
    if known is not None and known.items is not None:
        return list(known.items)
    items = list(s.scalars(select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.position)))
    if known is not None:
        known.items = items
    return items


def units_of(s: Session, tenant_id: str, order_id: str) -> list[ProvisioningUnit]:
    """The order's units in line order, copy by copy."""
    return list(s.scalars(select(ProvisioningUnit).join(OrderItem, OrderItem.id == ProvisioningUnit.order_item_id)
                          .where(ProvisioningUnit.tenant_id == tenant_id, ProvisioningUnit.order_id == order_id)
                          .order_by(OrderItem.position, ProvisioningUnit.copy_no)))


def _gpus(item: OrderItem) -> dict[str, int]:
    found = {m: int(n) for m, n in (item.gpus_by_model or {}).items() if n}
    if not found and item.gpu_model and item.gpu_count:
        found = {item.gpu_model: int(item.gpu_count)}
    return found


def _flavor(item: OrderItem, pool: PoolCapacity) -> str | None:
    """The pool's smallest instance type that covers the line (None: the provider sizes it)."""
    gpus = _gpus(item)
    fitting = []
    for it in pool.instance_types:
        have = {m: int(n) for m, n in (it.get("gpus_by_model") or {}).items() if n}
        if int(it.get("vcpu") or 0) >= item.vcpu and Decimal(str(it.get("memory_gib") or 0)) >= item.memory_gib \
                and have == gpus and it.get("name"):
            fitting.append((int(it.get("vcpu") or 0), Decimal(str(it.get("memory_gib") or 0)), it["name"]))
    return min(fitting)[2] if fitting else None


def spec_for(order: Order, item: OrderItem, copy_no: int, pool: PoolCapacity | None, unit_id: str) -> dict[str, Any]:
    """What ``connector/create`` gets: the line's sizes, placed in the pool's scope."""
    return {"name": f"{order.number}-{item.position + 1}-{copy_no}".lower(), "vcpu": item.vcpu,
            "memory_gib": str(item.memory_gib), "disk_gib": str(item.disk_gib), "gpus_by_model": _gpus(item),
            "flavor": _flavor(item, pool) if pool is not None else None,
            "placement": pool.scope if pool is not None and pool.kind != "region" else None,  # a zone, a host
            "tags": {"aicmp-order": order.number, "aicmp-unit": unit_id}}


def _pools(s: Session, tenant_id: str) -> dict[str, PoolCapacity]:
    return {p.pool_id: p for p in pool_capacities(s, tenant_id)}


def _copies(choice: dict[str, Any] | None, items: list[OrderItem], pools: dict[str, PoolCapacity]) \
        -> dict[int, list[str | None]]:
    """Position -> the pool of each copy (None: no usable pool, operations deliver it)."""
    out: dict[int, list[str | None]] = {i.position: [] for i in items}
    by_request = {f"item{n}": item for n, item in enumerate(items, 1)}
    for k, a in enumerate((choice or {}).get("assignments") or []):
        if not isinstance(a, dict):
            raise PlanError(f"placement_choice.assignments[{k}]: an object")
        item = by_request.get(a.get("request_id"))
        if item is None:
            raise PlanError(f"placement_choice.assignments[{k}].request_id: no order line {a.get('request_id')!r}")
        copies = a.get("copies")
        if isinstance(copies, bool) or not isinstance(copies, int) or copies < 0:
            raise PlanError(f"placement_choice.assignments[{k}].copies: a whole number")
        pool = pools.get(a.get("pool_id"))  # a pool the tenant may no longer use: operations deliver
        usable = pool.pool_id if pool is not None and pool.account_id is not None else None
        out[item.position].extend([usable] * copies)
    for item in items:
        out[item.position] = (out[item.position] + [None] * item.quantity)[:item.quantity]
    return out


def plan(s: Session, order: Order, choice: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The order's units (``views``), one per copy of each line, made once: a repeat returns the
    same units. The order moves to ``provisioning``."""
    if order.status != "created":  # planned before (planning moves it on in the same transaction)
        return views(s, order, units_of(s, order.tenant_id, order.id))
    items = order_items(s, order)
    pools = _pools(s, order.tenant_id) if (choice or {}).get("assignments") else {}  # no choice: all manual
    placed = _copies(choice, items, pools)
    now = clock.now()
    units = []
    for item in items:
        for copy_no, pool_id in enumerate(placed[item.position], 1):
            pool = pools.get(pool_id) if pool_id else None
            unit_id = new_id()
            units.append(ProvisioningUnit(
                id=unit_id, tenant_id=order.tenant_id, order_id=order.id, order_item_id=item.id, copy_no=copy_no,
                spec_id=item.spec_id, pool_id=pool_id, account_id=pool.account_id if pool else None,
                client_token=f"prov-{unit_id}", status="planned" if pool else "work_order", attempts=0,
                created_at=now, updated_at=now))
    s.add_all(units)
    order.status = "provisioning"
    audit.record(s, action="provisioning.plan", actor=None, tenant_id=order.tenant_id, target_type="order",
                 target_id=order.id, detail={"number": order.number, "units": len(units),
                                             "manual": sum(1 for u in units if u.pool_id is None)})
    return [view(u, order, next(i for i in items if i.id == u.order_item_id), pools.get(u.pool_id or ""))
            for u in units]


def view(unit: ProvisioningUnit, order: Order, item: OrderItem, pool: PoolCapacity | None) -> dict[str, Any]:
    """A unit as the process works on it."""
    return {"unit_id": unit.id, "order_id": unit.order_id,
            "title": f"{item.spec_name} #{unit.copy_no} ({order.number})",
            "manual": unit.account_id is None, "account_id": unit.account_id, "pool_id": unit.pool_id,
            "provider": pool.provider_type if pool else None,
            "spec": spec_for(order, item, unit.copy_no, pool, unit.id), "client_token": unit.client_token,
            "status": unit.status}


def views(s: Session, order: Order, units: list[ProvisioningUnit],
          items: list[OrderItem] | None = None) -> list[dict[str, Any]]:
    """Each unit as the process works on it (``items``: the order's, when the caller has them)."""
    by_id = {i.id: i for i in (items if items is not None else order_items(s, order))}
    pools = _pools(s, order.tenant_id) if any(u.pool_id for u in units) else {}
    return [view(u, order, by_id[u.order_item_id], pools.get(u.pool_id or "")) for u in units]


def replacement(s: Session, unit: ProvisioningUnit, item: OrderItem, excluded: set[str]) -> PoolCapacity | None:
    """The cheapest other pool of an account the tenant may use whose free capacity holds the unit."""
    need = {"vcpu": Decimal(item.vcpu), "memory_gib": Decimal(item.memory_gib), "disk_gib": Decimal(item.disk_gib),
            **{vector.gpu_dimension(m): Decimal(n) for m, n in _gpus(item).items()}}
    best: tuple[Decimal, str, PoolCapacity] | None = None
    for pool in pool_capacities(s, unit.tenant_id):
        if pool.pool_id in excluded or pool.account_id is None:
            continue
        if any(pool.free(dim) < amount for dim, amount in need.items() if amount > 0):
            continue
        cost = sum(((pool.unit_cost(dim) or Decimal(0)) * amount for dim, amount in need.items()), Decimal(0))
        if best is None or (cost, pool.pool_id) < best[:2]:
            best = (cost, pool.pool_id, pool)
    return best[2] if best else None


def finish(s: Session, order: Order) -> dict[str, Any]:
    """The order's status from its units: all running -> running, some -> partial, none -> failed;
    still ``provisioning`` while any unit waits."""
    units = units_of(s, order.tenant_id, order.id)
    counts = {k: sum(1 for u in units if u.status == k) for k in ("running", "failed", *WAITING)}
    waiting = sum(counts[k] for k in WAITING)
    if waiting:
        status = "provisioning"
    elif units and counts["running"] == len(units):
        status = "running"
    elif counts["running"]:
        status = "partial"
    else:
        status = "failed"
    if order.status != status:
        audit.record(s, action="order.provisioned", actor=None, tenant_id=order.tenant_id, target_type="order",
                     target_id=order.id, detail={"number": order.number, "status": status,
                                                 "running": counts["running"], "failed": counts["failed"]})
        order.status = status
    return {"order_id": order.id, "number": order.number, "status": status, "units": len(units),
            "running": counts["running"], "failed": counts["failed"], "waiting": waiting}


def lines(units: list[ProvisioningUnit]) -> dict[str, dict[str, Any]]:
    """Order item id -> {running, waiting, failed, units: [...]}: what the order read shows per line,
    from an order's ``units`` (in line and copy order)."""
    out: dict[str, dict[str, Any]] = {}
    for u in units:
        line = out.setdefault(u.order_item_id, {"running": 0, "waiting": 0, "failed": 0, "terminated": 0,
                                                "units": []})
        key = "waiting" if u.status in WAITING else "terminated" if u.status in ("terminating", "terminated") \
            else u.status
        line[key] += 1
        line["units"].append({"id": u.id, "copy_no": u.copy_no, "status": u.status, "pool_id": u.pool_id,
                              "resource_id": u.resource_id, "attempts": u.attempts, "last_error": u.last_error,
                              "work_order_id": u.work_order_id, "expires_at": u.expires_at})
    return out
