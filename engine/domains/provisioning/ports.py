"""The ``provisioning`` port (``tasks.ports.ProvisioningPort``) for one process instance.

A process reaches the order of the application it runs for (its business key) in its own tenant,
and the units of that order; anything else answers as unknown. Only the platform's own processes
(``scope.internal``: the application process calling ``order`` and ``provisioning``, termination)
may change units or orders. ``unit_of_resource`` (termination's read) reaches the instance's
tenant's units only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.domains.orders import service as orders
from engine.domains.orders.models import Order, OrderItem
from engine.domains.provisioning import expiry, service
from engine.domains.provisioning.models import ProvisioningUnit
from engine.domains.resources.models import CloudAccount, CloudResource
from engine.ports import Port, instance_scope
from tasks.ports import Refused

MAX_ERROR = 1000


def _changing() -> str:
    scope = instance_scope()
    if not scope.internal:
        raise Refused("NOT_PERMITTED", f"process {scope.process_key!r} may not provision: only the platform's "
                                       "own processes do")
    return scope.tenant_id


def _order(s: Session, order_id: Any, *, lock: bool = False) -> Order:
    """The instance's order ``order_id``: the one this transaction holds (created or locked by an
    earlier port call), else read (and locked, held, with ``lock``)."""
    scope = instance_scope()
    known = orders.held(s, order_id, scope.tenant_id) if isinstance(order_id, str) else None
    row = known.order if known is not None else None
    if row is None and isinstance(order_id, str):
        q = select(Order).where(Order.id == order_id, Order.tenant_id == scope.tenant_id)
        row = s.scalars(q.with_for_update() if lock else q).first()
        if row is not None and lock:
            orders.hold(s, row)
    if row is None or row.application_id != scope.business_key:
        raise Refused("UNKNOWN_ORDER", f"no order {order_id!r}")
    return row


def _unit(s: Session, unit_id: Any) -> tuple[ProvisioningUnit, Order]:
    tenant_id = _changing()
    row = None
    if isinstance(unit_id, str) and unit_id:
        row = s.scalars(select(ProvisioningUnit).where(ProvisioningUnit.id == unit_id,
                                                       ProvisioningUnit.tenant_id == tenant_id)
                        .with_for_update()).first()
    order = s.get(Order, row.order_id) if row is not None else None
    if row is None or order is None or order.application_id != instance_scope().business_key:
        raise Refused("UNKNOWN_UNIT", f"no provisioning unit {unit_id!r}")
    return row, order


def _resource(s: Session, unit: ProvisioningUnit, resource: dict[str, Any] | None) -> CloudResource | None:
    """The resource a unit runs on: a ``connector/*`` result (``resource_id``, the tenant's), or what
    operations name in a delivery (``provider_id``, with ``account_id`` when given: a resource of the
    tenant or nobody's yet, as a sync imported it). None when they name none that is known."""
    resource = resource if isinstance(resource, dict) else {}
    if resource.get("resource_id"):
        row = s.scalars(select(CloudResource).where(CloudResource.id == str(resource["resource_id"]),
                                                    CloudResource.tenant_id == unit.tenant_id)
                        .with_for_update()).first()
        if row is None:
            raise Refused("UNKNOWN_RESOURCE", f"no resource {resource['resource_id']!r}")
        return row
    if not resource.get("provider_id"):
        return None
    q = select(CloudResource).where(CloudResource.provider_id == str(resource["provider_id"]),
                                    or_(CloudResource.tenant_id == unit.tenant_id, CloudResource.tenant_id.is_(None)))
    if resource.get("account_id"):
        q = q.where(CloudResource.account_id == str(resource["account_id"]))
    found = s.scalars(q.with_for_update()).all()
    return found[0] if len(found) == 1 else None


def _text(value: Any, limit: int = MAX_ERROR) -> str:
    return str(value if value is not None else "")[:limit]


class Provisioning(Port):
    def plan(self, order_id: str, placement_choice: dict[str, Any] | None) -> dict[str, Any]:
        _changing()
        if placement_choice is not None and not isinstance(placement_choice, dict):
            raise Refused("INVALID_CHOICE", "placement_choice must be an object or null")
        with self._ports.session() as s:
            order = _order(s, order_id, lock=True)
            try:
                units = service.plan(s, order, placement_choice)
            except service.PlanError as exc:
                raise Refused("INVALID_CHOICE", str(exc)) from exc
            return {"order_id": order.id, "number": order.number, "units": units}

    def attempt(self, unit_id: str) -> dict[str, Any]:
        with self._ports.session() as s:
            unit, _order_row = _unit(s, unit_id)
            if unit.status in ("planned", "creating", "failed"):
                unit.status, unit.attempts, unit.updated_at = "creating", unit.attempts + 1, clock.now()
            return {"unit_id": unit.id, "attempts": unit.attempts, "status": unit.status}

    def running(self, unit_id: str, resource: dict[str, Any] | None, work_order_id: str | None = None) \
            -> dict[str, Any]:
        with self._ports.session() as s:
            unit, order = _unit(s, unit_id)
            row = _resource(s, unit, resource)
            if row is not None:
                row.tenant_id, row.business_system_id, row.updated_at = unit.tenant_id, order.business_system_id, \
                    clock.now()
                unit.resource_id = row.id
            now = clock.now()
            item = s.get(OrderItem, unit.order_item_id)
            expiring = None
            if unit.status != "running":
                unit.status, unit.updated_at = "running", now
                unit.last_error = None
                if work_order_id:
                    unit.work_order_id = str(work_order_id)[:36]
                if item is not None and item.term_months and unit.expires_at is None:
                    unit.expires_at = expiry.add_months(now, item.term_months)
                    expiring = expiry.Expiring(unit.tenant_id, unit.id, unit.expires_at)
                audit.record(s, action="provisioning.running", actor=None, tenant_id=unit.tenant_id,
                             target_type="provisioning_unit", target_id=unit.id,
                             detail={"order": order.number, "resource_id": unit.resource_id,
                                     "expires_at": unit.expires_at.isoformat() if unit.expires_at else None})
            account = s.get(CloudAccount, unit.account_id) if unit.account_id else None
            if expiring is not None:  # last: a call that fails before here schedules nothing
                self.__dict__.setdefault("expiring", []).append(expiring)
            return {"unit_id": unit.id, "resource_id": unit.resource_id, "started_at": now.isoformat(),
                    "expires_at": unit.expires_at.isoformat() if unit.expires_at else None,
                    "billing": {"resource_ref": unit.resource_id or f"unit:{unit.id}", "spec_id": unit.spec_id,
                                "quantity": 1, "organization_id": order.organization_id,
                                "business_system_id": order.business_system_id,
                                "provider": account.provider_type if account else "manual",
                                "resource_type": (item.product_name if item else None)}}

    def failed(self, unit_id: str, code: str, message: str, work_order_id: str | None = None) -> dict[str, Any]:
        with self._ports.session() as s:
            unit, order = _unit(s, unit_id)
            if unit.status == "running":
                return {"unit_id": unit.id, "status": unit.status}
            unit.last_error = _text(f"{code}: {message}")
            unit.status = "failed" if work_order_id else "work_order"
            if work_order_id:
                unit.work_order_id = str(work_order_id)[:36]
            unit.updated_at = clock.now()
            audit.record(s, action="provisioning.failed", actor=None, tenant_id=unit.tenant_id,
                         target_type="provisioning_unit", target_id=unit.id,
                         detail={"order": order.number, "code": _text(code, 64), "status": unit.status})
            return {"unit_id": unit.id, "status": unit.status}

    def replace(self, unit_id: str, failed_pool_id: str | None, excluded: list[str] | None = None) -> dict[str, Any]:
        with self._ports.session() as s:
            unit, order = _unit(s, unit_id)
            refused = {str(p) for p in (excluded or []) if p} | ({failed_pool_id} if failed_pool_id else set())
            item = s.get(OrderItem, unit.order_item_id)
            pool = service.replacement(s, unit, item, refused) if item is not None else None
            if pool is None:
                return {"unit": None, "excluded": sorted(refused)}
            unit.pool_id, unit.account_id = pool.pool_id, pool.account_id
            unit.client_token = f"prov-{unit.id}-r{len(refused)}"
            unit.status, unit.updated_at = "planned", clock.now()
            audit.record(s, action="provisioning.replace", actor=None, tenant_id=unit.tenant_id,
                         target_type="provisioning_unit", target_id=unit.id,
                         detail={"order": order.number, "pool": pool.pool_id, "refused": sorted(refused)})
            return {"unit": service.view(unit, order, item, pool), "excluded": sorted(refused)}

    def finish(self, order_id: str) -> dict[str, Any]:
        _changing()
        with self._ports.session() as s:
            return service.finish(s, _order(s, order_id, lock=True))

    def unit_of_resource(self, resource_id: str) -> dict[str, Any]:
        scope = instance_scope()
        with self._ports.reading() as s:
            found = s.execute(select(ProvisioningUnit, Order).join(Order, Order.id == ProvisioningUnit.order_id)
                              .where(ProvisioningUnit.resource_id == str(resource_id),
                                     ProvisioningUnit.tenant_id == scope.tenant_id)).first()
            if found is None:
                raise Refused("UNKNOWN_RESOURCE", f"no provisioned resource {resource_id!r}")
            unit, order = found
            return {"unit_id": unit.id, "order_id": order.id, "order_item_id": unit.order_item_id,
                    "spec_id": unit.spec_id, "business_system_id": order.business_system_id,
                    "organization_id": order.organization_id, "status": unit.status}

    def terminated(self, unit_id: str) -> dict[str, Any]:
        """Termination's write (engine.domains.resource_actions): the unit whose resource the calling
        termination request ends (the instance's business key) is terminated; a repeat changes
        nothing, and any other unit answers as unknown."""
        tenant_id = _changing()
        ending = self._ports.resource_actions.get(instance_scope().business_key)
        with self._ports.session() as s:
            unit = s.scalars(select(ProvisioningUnit).where(ProvisioningUnit.id == str(unit_id),
                                                            ProvisioningUnit.tenant_id == tenant_id)
                             .with_for_update()).first()
            if unit is None or ending.get("kind") != "terminate" or unit.resource_id != ending.get("resource_id"):
                raise Refused("UNKNOWN_UNIT", f"no provisioning unit {unit_id!r}")
            if unit.status != "terminated":
                previous, unit.status, unit.updated_at = unit.status, "terminated", clock.now()
                audit.record(s, action="provisioning.terminated", actor=None, tenant_id=unit.tenant_id,
                             target_type="provisioning_unit", target_id=unit.id,
                             detail={"request_id": ending.get("request_id"), "previous": previous})
            return {"unit_id": unit.id, "status": unit.status}
