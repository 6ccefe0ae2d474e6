"""What the API calls: ask for an action on a resource (or the termination of a whole order),
read requests, and see a resource with its cost so far.

An action is a request row and a process, created in one transaction: ``Runtime.start``'s check
locks the resource row, refuses a second open termination and inserts the request, so of fifty
concurrent terminations one inserts and the rest see it (409 naming it). The partial unique index
on open terminations (``models``) holds the same line should two writers pass the check at once.
Termination runs ``termination``, every other action ``resource_action``; both are internal:
only this module starts them, for a resource the caller may see.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.base import ResourceSpec, Status
from engine import audit, clock
from engine.domains.billing import money
from engine.domains.billing.models import BillLine
from engine.domains.orders.models import Order
from engine.domains.resource_actions.models import KINDS, OPEN, STATUSES, ResourceRequest
from engine.domains.resources.inventory import view, visible
from engine.domains.resources.models import CloudResource
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models.base import new_id
from engine.principal import Principal
from engine.tenancy.scope import scope_where

if TYPE_CHECKING:
    from engine.core import Engine

TERMINATION, ACTION, APPROVAL = "termination", "resource_action", "resource_approval"
INTERNAL_PROCESSES = (TERMINATION, ACTION, APPROVAL)
READ, OPERATE = "resource:read", "resource:operate"


def field_error(name: str, message: str) -> InvalidInput:
    return InvalidInput(f"{name}: {message}", errors=[{"field": name, "message": message}])


def request_view(row: ResourceRequest) -> dict[str, Any]:
    return {"id": row.id, "tenant_id": row.tenant_id, "resource_id": row.resource_id, "order_id": row.order_id,
            "kind": row.kind, "params": dict(row.params or {}), "status": row.status,
            "instance_id": row.instance_id, "requested_by": row.requested_by, "result": dict(row.result or {}),
            "created_at": row.created_at, "updated_at": row.updated_at, "finished_at": row.finished_at}


def _params(action: Any, spec: Any, name: str = "resource") -> dict[str, Any]:
    """The request's parameters: a resize's new spec (named as the resource unless it says)."""
    if action not in KINDS:
        raise field_error("action", f"one of {', '.join(KINDS)}")
    if action != "resize":
        if spec is not None:
            raise field_error("spec", "only a resize takes a spec")
        return {}
    if not isinstance(spec, dict):
        raise field_error("spec", "a resize needs the new spec (an object)")
    try:
        return {"spec": ResourceSpec.from_dict({"name": name, **spec}).to_dict()}
    except (TypeError, ValueError) as exc:
        raise field_error("spec", str(exc)) from exc


def _open_termination(s: Session, resource_id: str) -> ResourceRequest | None:
    return s.scalars(select(ResourceRequest).where(ResourceRequest.resource_id == resource_id,
                                                   ResourceRequest.kind == "terminate",
                                                   ResourceRequest.finished_at.is_(None))).first()


def _already(row: ResourceRequest) -> Conflict:
    return Conflict(f"resource {row.resource_id} is being terminated already (request {row.id})",
                    errors=[{"field": "action", "message": "a termination is open", "request_id": row.id}])


def request_action(engine: Engine, principal: Principal, resource_id: str, action: Any, spec: Any = None, *,
                   order_id: str | None = None, ip: str | None = None) -> dict[str, Any]:
    """Start ``action`` on a resource the caller sees; returns the request (202 for the API). 404
    for a resource the caller cannot see, 409 for one of no tenant (an orphan: assign it first),
    a deleted one, or one whose termination is open already (``errors[0].request_id`` names it)."""
    _params(action, spec)
    with engine.db.read() as s:
        resource = s.scalars(select(CloudResource).where(CloudResource.id == resource_id, visible(principal),
                                                         *_scope(engine, principal, OPERATE))).first()
        if resource is None:
            raise NotFound(f"no resource {resource_id}")
        tenant_id = resource.tenant_id
        params = _params(action, spec, resource.name)
    if tenant_id is None:
        raise Conflict(f"resource {resource_id} belongs to no tenant: assign it before acting on it",
                       errors=[{"field": "resource_id", "message": "an orphan"}])
    request_id = new_id()

    def insert(s: Session, _definition: Any, _bound: Any) -> dict[str, Any]:  # in the start's transaction
        row = s.scalars(select(CloudResource).where(CloudResource.id == resource_id,
                                                    CloudResource.tenant_id == tenant_id)
                        .with_for_update()).first()
        if row is None:
            raise NotFound(f"no resource {resource_id}")
        if row.status == str(Status.DELETED):
            raise Conflict(f"resource {resource_id} is deleted", errors=[{"field": "resource_id",
                                                                         "message": "deleted"}])
        if action == "terminate":
            found = _open_termination(s, resource_id)
            if found is not None:
                raise _already(found)
        s.add(ResourceRequest(id=request_id, tenant_id=tenant_id, resource_id=resource_id, order_id=order_id,
                              kind=action, params=params, status="pending", requested_by=principal.username))
        s.flush()  # the open-termination index decides here if another writer got past the check
        audit.record(s, action=f"resource.{action}.request", actor=principal.username, tenant_id=tenant_id,
                     target_type="resource", target_id=resource_id, ip=ip,
                     detail={"request_id": request_id, **params})
        return {}

    variables = {"request_id": request_id, "resource_id": resource_id, "kind": action,
                 "spec": params.get("spec"), "approval_timeout": engine.settings.approval_timeout}
    try:
        started = engine.runtime.start(TERMINATION if action == "terminate" else ACTION, tenant_id=tenant_id,
                                       initiator=principal.username, business_key=request_id,
                                       variables=variables, ip=ip, check=insert)
    except IntegrityError:
        with engine.db.read() as s:
            found = _open_termination(s, resource_id)
        if found is None:
            raise
        raise _already(found) from None
    with engine.db.write() as s:
        row = s.get(ResourceRequest, request_id)
        row.instance_id = started.id
        return request_view(row)


def terminate_order(engine: Engine, principal: Principal, order_id: str, *, ip: str | None = None) -> dict[str, Any]:
    """One termination request per live resource the order's provisioning made (a resource whose
    termination is open already keeps that one). 404 for an order the caller cannot see."""
    from engine.domains.provisioning.models import ProvisioningUnit

    with engine.db.read() as s:
        order = s.scalars(select(Order).where(Order.id == order_id, *scope_where(
            engine.authorizer, principal, OPERATE, Order, creator=Order.applicant))).first()
        if order is None:
            raise NotFound(f"no order {order_id}")
        resource_ids = list(s.scalars(
            select(ProvisioningUnit.resource_id).join(CloudResource, CloudResource.id == ProvisioningUnit.resource_id)
            .where(ProvisioningUnit.order_id == order.id, ProvisioningUnit.tenant_id == order.tenant_id,
                   CloudResource.status != str(Status.DELETED))
            .order_by(ProvisioningUnit.order_item_id, ProvisioningUnit.copy_no)))
    requests = []
    for resource_id in resource_ids:
        try:
            requests.append(request_action(engine, principal, resource_id, "terminate", order_id=order.id, ip=ip))
        except Conflict as exc:
            open_id = next((e.get("request_id") for e in exc.errors or [] if isinstance(e, dict)), None)
            if open_id is None:
                raise
            requests.append(get_request(engine, principal, open_id))
    return {"order_id": order.id, "number": order.number, "requests": requests}


def _scope(engine: Engine, principal: Principal, permission: str) -> list[Any]:
    """Resources ``principal`` reaches with ``permission`` (a tenant user: by data scope, e.g. the
    business systems they belong to)."""
    return scope_where(engine.authorizer, principal, permission, CloudResource)


def _visible_requests(engine: Engine, principal: Principal) -> list[Any]:
    """Requests by data scope: the tenant's (``all``), or the user's own (``mine``)."""
    return scope_where(engine.authorizer, principal, READ, ResourceRequest, creator=ResourceRequest.requested_by,
                       organization=None, business_system=None)


def get_request(engine: Engine, principal: Principal, request_id: str) -> dict[str, Any]:
    with engine.db.read() as s:
        row = s.scalars(select(ResourceRequest).where(ResourceRequest.id == request_id,
                                                      *_visible_requests(engine, principal))).first()
        if row is None:
            raise NotFound(f"no resource request {request_id}")
        return request_view(row)


def list_requests(engine: Engine, principal: Principal, *, resource_id: str | None = None, kind: str | None = None,
                  status: str | None = None, offset: int = 0, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    """Newest first."""
    where = _visible_requests(engine, principal)
    if resource_id:
        where.append(ResourceRequest.resource_id == resource_id)
    if kind:
        if kind not in KINDS:
            raise field_error("kind", f"one of {', '.join(KINDS)}")
        where.append(ResourceRequest.kind == kind)
    if status:
        if status not in STATUSES:
            raise field_error("status", f"one of {', '.join(STATUSES)}")
        where.append(ResourceRequest.status == status)
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(ResourceRequest).where(*where)) or 0
        rows = s.scalars(select(ResourceRequest).where(*where)
                         .order_by(ResourceRequest.created_at.desc(), ResourceRequest.id).offset(offset).limit(limit))
        return [request_view(r) for r in rows], total


def cost_so_far(s: Session, tenant_id: str, resource_id: str) -> Decimal:
    """The sum of the resource's bill lines (rated days and adjustments) in its tenant's bills."""
    total = s.scalar(select(func.coalesce(func.sum(BillLine.amount), 0))
                     .where(BillLine.tenant_id == tenant_id, BillLine.resource_id == resource_id))
    return Decimal(str(total or 0)).quantize(money.CENT)  # lines are whole cents: a sum of them is too


def overview(engine: Engine, principal: Principal, resource_id: str) -> dict[str, Any]:
    """One resource as the caller sees it, with its cost so far and its open requests."""
    with engine.db.read() as s:
        row = s.scalars(select(CloudResource).where(CloudResource.id == resource_id, visible(principal),
                                                    *_scope(engine, principal, READ))).first()
        if row is None:
            raise NotFound(f"no resource {resource_id}")
        found = view(row)
        found["cost_so_far"] = cost_so_far(s, row.tenant_id, row.id) if row.tenant_id else money.ZERO.quantize(
            money.CENT)
        found["currency"] = money.CURRENCY
        found["open_requests"] = [request_view(r) for r in s.scalars(
            select(ResourceRequest).where(ResourceRequest.resource_id == row.id, ResourceRequest.status.in_(OPEN))
            .order_by(ResourceRequest.created_at))]
        found["as_of"] = clock.now()
        return found
