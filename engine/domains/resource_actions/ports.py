"""The resource_actions domain's implementation of ``tasks.ports.ResourceActionsPort``.

Every call is bound to the calling instance (``instance_scope``): it reaches only the request the
instance was started for (its business key) in the instance's tenant, and only from this domain's
own processes (``termination``, ``resource_action`` and the ``resource_approval`` they call), which
this domain's service started after checking the caller. Any other id answers as unknown.
``expire`` serves ``subscription_expiry`` (started by engine.domains.provisioning when a unit with a
term runs): it opens the termination that process then calls, for a unit of the instance's tenant.

The provisioning unit of a resource (which order line made it) is read through the
``provisioning`` port (engine.domains.provisioning), when one is installed: a resource imported by
a sync and assigned by staff has none, and then no quota is given back for it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors import vector
from connectors.base import Status
from engine import audit, clock
from engine.domains.orders.models import Order, OrderItem
from engine.domains.provisioning.models import ProvisioningUnit
from engine.domains.resource_actions.models import FINISHED, STATUSES, ResourceRequest
from engine.domains.resources.models import CloudResource
from engine.errors import Conflict
from engine.models import Organization, ProcessInstance, Role, User, UserRole
from engine.ports import Port, instance_scope
from engine.tenancy import quotas
from tasks.ports import Refused

EXPIRY_PROCESS, EXPIRED = "subscription_expiry", "expired"  # a term's end (engine.domains.provisioning.expiry)
# status -> the statuses a process may move a request to from it
MOVES: dict[str, tuple[str, ...]] = {"pending": ("approved", "rejected", "running", "failed"),
                                     "approved": ("running", "failed"), "running": ("done", "failed")}


def _request(s: Session, request_id: Any, *, lock: bool = False) -> ResourceRequest:
    scope = instance_scope()
    unknown = Refused("UNKNOWN_REQUEST", f"no resource request {request_id!r}")
    if not isinstance(request_id, str) or not request_id or request_id != scope.business_key or not scope.internal:
        raise unknown
    q = select(ResourceRequest).where(ResourceRequest.id == request_id, ResourceRequest.tenant_id == scope.tenant_id)
    row = s.scalars(q.with_for_update() if lock else q).first()
    if row is None:
        raise unknown
    return row


def unit_of(ports: Any, resource_id: str) -> dict[str, Any] | None:
    """The provisioning unit that made ``resource_id``, or None (no provisioning installed, or a
    resource it did not make)."""
    if "provisioning" not in ports.registry.names:
        return None
    try:
        return ports.provisioning.unit_of_resource(resource_id) or None
    except Refused:
        return None


def one_copy(item: OrderItem) -> dict[str, Decimal]:
    """What one copy of an order line holds of the quota, per dimension (``connectors.vector``)."""
    line = {f: getattr(item, f) for f in vector.LINE_FIELDS}
    out: dict[str, Decimal] = {}
    for dimension, value in vector.per_unit(line):
        amount = Decimal(str(value or 0))
        if amount:
            out[dimension] = out.get(dimension, Decimal(0)) + amount
    return out


def describe(row: ResourceRequest) -> dict[str, Any]:
    return {"request_id": row.id, "tenant_id": row.tenant_id, "kind": row.kind, "status": row.status,
            "resource_id": row.resource_id, "order_id": row.order_id, "params": dict(row.params or {}),
            "requested_by": row.requested_by}


class ResourceActions(Port):
    def get(self, request_id: str) -> dict[str, Any]:
        with self._ports.reading() as s:
            row = _request(s, request_id)
            resource = s.get(CloudResource, row.resource_id)
            found = describe(row)
        found["resource_name"] = resource.name if resource is not None else None
        found["unit"] = unit_of(self._ports, row.resource_id) if row.kind == "terminate" else None
        return found

    def mark(self, request_id: str, status: str, result: dict[str, Any] | None = None) -> dict[str, Any]:
        if status not in STATUSES:
            raise Refused("INVALID_STATUS", f"status {status!r} is not one of {', '.join(STATUSES)}")
        with self._ports.session() as s:
            row = _request(s, request_id, lock=True)
            previous = row.status
            if previous != status:
                if status not in MOVES.get(previous, ()):
                    raise Refused("INVALID_STATUS", f"request {row.id} is {previous}: it cannot become {status}")
                row.status = status
            now = clock.now()
            if result:
                row.result = {**(row.result or {}), **result}
            row.updated_at = now
            if status in FINISHED and row.finished_at is None:
                row.finished_at = now
            if previous != status:
                audit.record(s, action=f"resource-request.{status}", actor=None, tenant_id=row.tenant_id,
                             target_type="resource", target_id=row.resource_id,
                             detail={"request_id": row.id, "kind": row.kind, "previous": previous})
            return {"status": row.status, "previous": previous, "at": now.isoformat()}

    def approvers(self, request_id: str, role: str) -> list[str]:
        """Holders of ``role`` in the nearest organisation, from the requester's upwards, that has
        any (the requester excluded)."""
        with self._ports.reading() as s:
            row = _request(s, request_id)
            requester = s.scalars(select(User).where(User.tenant_id == row.tenant_id,
                                                     User.username == row.requested_by)).first()
            org = s.get(Organization, requester.organization_id) if requester and requester.organization_id else None
            chain = [i for i in (org.path if org is not None else "").split("/") if i]
            if not chain:
                return []
            holders = s.execute(
                select(User.organization_id, User.username).join(UserRole, UserRole.user_id == User.id)
                .join(Role, Role.id == UserRole.role_id)
                .where(User.tenant_id == row.tenant_id, User.enabled.is_(True), User.organization_id.in_(chain),
                       User.username != row.requested_by, Role.code == role,
                       (Role.tenant_id.is_(None)) | (Role.tenant_id == row.tenant_id))
                .order_by(User.username)).all()
        by_org: dict[str, list[str]] = {}
        for org_id, name in holders:
            by_org.setdefault(org_id, []).append(name)
        for org_id in reversed(chain):
            if by_org.get(org_id):
                return list(dict.fromkeys(by_org[org_id]))
        return []

    def decision(self, request_id: str, step: str, decision: str, comment: str | None) -> dict[str, Any]:
        with self._ports.session() as s:
            row = _request(s, request_id, lock=True)
            if row.status != "pending":
                raise Refused("NOT_PENDING", f"request {row.id} is {row.status}, not pending approval")
            entry = {"step": step, "decision": decision, "comment": comment, "at": clock.now().isoformat()}
            row.result = {**(row.result or {}), "approvals": [*(row.result or {}).get("approvals", []), entry]}
            row.updated_at = clock.now()
            return {"step": step, "decision": decision, "comment": comment}

    def expire(self, unit_id: str) -> dict[str, Any]:
        """``subscription_expiry``'s step: open the termination request (id: the instance's business
        key) of the unit's resource, without approval, once ``expires_at`` has passed. Nothing twice:
        a unit no longer running (or of no known resource), a resource deleted, a termination already
        open, or a repeat answers ``terminate`` false with the reason."""
        scope = instance_scope()
        if not scope.internal or scope.process_key != EXPIRY_PROCESS or not scope.business_key:
            raise Refused("UNKNOWN_UNIT", f"no provisioning unit {unit_id!r}")
        with self._ports.session() as s:
            unit = s.scalars(select(ProvisioningUnit).where(ProvisioningUnit.id == str(unit_id),
                                                            ProvisioningUnit.tenant_id == scope.tenant_id)
                             .with_for_update()).first()
            if unit is None or unit.expires_at is None:
                raise Refused("UNKNOWN_UNIT", f"no provisioning unit {unit_id!r} with a term")
            skip = {"terminate": False, "unit_id": unit.id, "resource_id": unit.resource_id}
            if clock.now() < unit.expires_at:  # never silently: the timer fires at expires_at
                raise Refused("NOT_DUE", f"unit {unit.id} expires at {unit.expires_at.isoformat()}")
            if s.get(ResourceRequest, scope.business_key) is not None:
                return {**skip, "reason": "requested", "request_id": scope.business_key}
            if unit.status != "running":
                return {**skip, "reason": f"unit_{unit.status}"}
            if unit.resource_id is None:  # delivered by hand without naming a resource: nothing to delete
                return {**skip, "reason": "no_resource"}
            resource = s.scalars(select(CloudResource).where(CloudResource.id == unit.resource_id,
                                                             CloudResource.tenant_id == scope.tenant_id)
                                 .with_for_update()).first()  # the lock every termination request takes
            if resource is None or resource.status == str(Status.DELETED):
                return {**skip, "reason": "resource_deleted"}
            found = s.scalars(select(ResourceRequest.id).where(ResourceRequest.resource_id == resource.id,
                                                               ResourceRequest.kind == "terminate",
                                                               ResourceRequest.finished_at.is_(None))).first()
            if found is not None:
                return {**skip, "reason": "termination_open", "request_id": found}
            order = s.get(Order, unit.order_id)
            instance_id = s.scalar(select(ProcessInstance.id).where(  # the expiry's: termination runs inside it
                ProcessInstance.tenant_id == scope.tenant_id, ProcessInstance.process_key == EXPIRY_PROCESS,
                ProcessInstance.business_key == scope.business_key))
            row = ResourceRequest(id=scope.business_key, instance_id=instance_id, tenant_id=scope.tenant_id,
                                  resource_id=resource.id, order_id=unit.order_id, kind="terminate",
                                  params={"reason": EXPIRED}, status="pending",
                                  requested_by=order.applicant if order is not None else None)
            s.add(row)
            audit.record(s, action="resource.terminate.request", actor=None, tenant_id=scope.tenant_id,
                         target_type="resource", target_id=resource.id,
                         detail={"request_id": row.id, "reason": EXPIRED, "unit_id": unit.id,
                                 "expires_at": unit.expires_at.isoformat()})
            return {"terminate": True, "unit_id": unit.id, "resource_id": resource.id, "request_id": row.id}

    def release_quota(self, request_id: str) -> dict[str, str]:
        """Give back what one copy of the resource's order line holds as used quota, at the order's
        organisation, once per request (a repeat, or a resource no order line made, gives nothing)."""
        unit = None
        with self._ports.reading() as s:
            row = _request(s, request_id)
            if row.kind != "terminate":
                raise Refused("NOT_A_TERMINATION", f"request {row.id} is a {row.kind}")
            resource_id = row.resource_id
        unit = unit_of(self._ports, resource_id)
        with self._ports.session() as s:
            row = _request(s, request_id, lock=True)
            if row.quota_released or unit is None or not unit.get("order_item_id"):
                return {}
            item = s.get(OrderItem, unit["order_item_id"])
            order = s.get(Order, item.order_id) if item is not None else None
            if order is None or order.tenant_id != row.tenant_id:
                return {}
            amounts = one_copy(item)
            try:
                quotas.release(s, order.tenant_id, order.organization_id, amounts, used=True)
            except Conflict as exc:
                raise Refused("QUOTA_NOT_HELD", exc.message) from exc
            row.quota_released = True
            row.result = {**(row.result or {}), "quota_released": {k: str(v) for k, v in amounts.items()}}
            audit.record(s, action="quota.release", actor=None, tenant_id=order.tenant_id, target_type="resource",
                         target_id=resource_id, detail={"order": order.number, "request_id": row.id,
                                                        "amounts": {k: str(v) for k, v in amounts.items()}})
            return {k: str(v) for k, v in amounts.items()}
