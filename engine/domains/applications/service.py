"""Resource applications: drafts (create, edit), reading them (detail, lists, CSV export).

A tenant user writes a draft: items from the cart or given directly (each copies its spec's
dimensions), a business system, a purpose, attachments (``engine.domains.applications.attachments``).
What happens once it is submitted is ``engine.domains.applications.flow``.

Who sees what: the caller's tenant only (platform staff: every tenant), narrowed by the data scope
of the roles that grant ``application:read`` (applicant = ``mine``, organisation, business system).
Another tenant's or an out-of-scope application is NotFound.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from connectors import vector
from engine import audit, clock
from engine.domains.applications.models import Application, ApplicationAttachment, ApplicationItem
from engine.domains.applications.ports import item_dict, item_dicts
from engine.domains.applications.status import EDITABLE, HAS_ORDER
from engine.domains.cart.service import quantity_of, take, tenant_user
from engine.domains.catalog import service as catalog
from engine.domains.orders import service as orders
from engine.domains.orders.models import Order
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import (
    BusinessSystem,
    HumanTask,
    HumanTaskCandidate,
    Organization,
    ProcessInstance,
    TaskHistory,
)
from engine.principal import Principal
from engine.runtime.instances import ACTIVE
from engine.tenancy.access import PermissionDenied
from engine.tenancy.scope import scope_where

if TYPE_CHECKING:
    from engine.core import Engine

READ = "application:read"
MANAGE = "application:manage"
MAX_ITEMS = 100
MAX_TERM_MONTHS = 60  # a line's purchased term: 1 to 60 calendar months


def _field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


# -- views ---------------------------------------------------------------------------------------

def totals(items: list[dict[str, Any]]) -> dict[str, Any]:
    """What the items add up to, per quota dimension, and the GPUs per model (``gpus_by_model``)."""
    out: dict[str, Any] = {dim: 0 for dim in vector.NAMES}
    by_model: dict[str, int] = {}
    for item in items:
        for dim, field in vector.FIELDS.items():
            out[dim] += item[field] * item["quantity"]
        for model, count in (item.get("gpus_by_model") or {}).items():
            by_model[model] = by_model.get(model, 0) + count * item["quantity"]
    out["gpus_by_model"] = dict(sorted(by_model.items()))
    return out


def summary(app: Application) -> dict[str, Any]:
    return {"id": app.id, "number": app.number, "title": app.title, "purpose": app.purpose,
            "tenant_id": app.tenant_id, "applicant": app.applicant, "applicant_id": app.applicant_id,
            "organization_id": app.organization_id, "business_system_id": app.business_system_id,
            "status": app.status, "quota_state": app.quota_state, "approvals": app.approvals,
            "submissions": app.submissions, "last_comment": app.last_comment, "created_at": app.created_at,
            "updated_at": app.updated_at, "submitted_at": app.submitted_at, "decided_at": app.decided_at}


def _attachments(s: Session, application_id: str) -> list[dict[str, Any]]:
    rows = s.scalars(select(ApplicationAttachment).where(ApplicationAttachment.application_id == application_id)
                     .order_by(ApplicationAttachment.created_at, ApplicationAttachment.id)).all()
    return [describe_attachment(r) for r in rows]


def describe_attachment(row: ApplicationAttachment) -> dict[str, Any]:
    return {"id": row.id, "filename": row.filename, "content_type": row.content_type, "size": row.size,
            "sha256": row.sha256, "uploaded_by": row.uploaded_by, "created_at": row.created_at}


def running_instance_or_none(s: Session, app: Application) -> str | None:
    """The id of the application's newest running (or stuck) process instance, if any."""
    return s.scalar(select(ProcessInstance.id).where(
        ProcessInstance.tenant_id == app.tenant_id, ProcessInstance.business_key == app.id,
        ProcessInstance.status.in_(ACTIVE)).order_by(ProcessInstance.created_at.desc()).limit(1))


def _instances_and_history(s: Session, app: Application) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The application's process instances (without their state) and their finished steps, in one
    statement: each history row carries its instance's few columns."""
    pi, th = ProcessInstance, TaskHistory
    rows = s.execute(select(pi.id, pi.process_key, pi.status, pi.created_at, pi.ended_at, th)
                     .outerjoin(th, and_(th.instance_id == pi.id, th.state.in_(("COMPLETED", "CANCELLED", "ERROR"))))
                     .where(pi.tenant_id == app.tenant_id, pi.business_key == app.id)).all()
    instances: dict[str, dict[str, Any]] = {}
    steps: list[TaskHistory] = []
    for instance_id, process_key, status, created_at, ended_at, step in rows:
        instances.setdefault(instance_id, {"id": instance_id, "process_key": process_key, "status": status,
                                           "created_at": created_at, "ended_at": ended_at})
        if step is not None:
            steps.append(step)
    steps.sort(key=lambda r: (r.at, r.id))
    history = [{"instance_id": r.instance_id, "task_id": r.task_guid, "task_spec": r.task_spec,
                "task_name": r.task_name, "task_type": r.task_type, "state": r.state, "actor": r.actor, "at": r.at,
                "data": r.data_changed} for r in steps]
    return sorted(instances.values(), key=lambda i: (i["created_at"], i["id"])), history


def current_tasks(s: Session, instance_ids: list[str]) -> list[dict[str, Any]]:
    """The open user tasks of the instances with their candidates: one statement."""
    if not instance_ids:
        return []
    c = HumanTaskCandidate
    rows = s.execute(select(HumanTask, c.kind, c.value).outerjoin(c, c.task_id == HumanTask.id)
                     .where(HumanTask.instance_id.in_(instance_ids))
                     .order_by(HumanTask.created_at, HumanTask.id, c.kind, c.value)).all()
    tasks: dict[str, HumanTask] = {}
    cands: dict[str, list[str]] = {}
    for task, kind, value in rows:
        tasks.setdefault(task.id, task)
        found = cands.setdefault(task.id, [])
        if kind is not None:
            found.append(f"{kind}:{value}")
    return [{"id": r.id, "instance_id": r.instance_id, "process_key": r.process_key, "task_spec": r.task_spec,
             "task_name": r.task_name, "lane": r.lane, "assignee": r.assignee, "candidates": cands[r.id],
             "created_at": r.created_at, "due_at": r.due_at} for r in tasks.values()]


# What other domains add to the detail ``get(..., extras=True)`` answers (billing: the quote):
# f(session, application, items) -> fields
DETAIL_HOOKS: list[Any] = []


def _detail(s: Session, app: Application, *, hooks: bool = False,
            items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    items = item_dicts(s, app.id) if items is None else items
    extra = {k: v for hook in (DETAIL_HOOKS if hooks else ()) for k, v in hook(s, app, items).items()}
    instances, history = _instances_and_history(s, app)
    # read only what the application's own row says is there: attachments, an order
    attachments = _attachments(s, app.id) if app.attachment_count else []
    order = orders.describe_for_application(s, app.id) if app.status in HAS_ORDER else None
    return {**summary(app), "items": items, "totals": totals(items), "attachments": attachments,
            "instances": instances, "history": history, "current_tasks": current_tasks(s, [i["id"] for i in instances]),
            "order": order, **extra}


# -- loading ----------------------------------------------------------------------------------------

def _scope(engine: Engine, principal: Principal) -> list[Any]:
    return scope_where(engine.authorizer, principal, READ, Application, creator=Application.applicant)


def load(s: Session, engine: Engine, principal: Principal, application_id: str, *, lock: bool = False) -> Application:
    q = select(Application).where(Application.id == application_id, *_scope(engine, principal))
    if lock:
        q = q.with_for_update()
    row = s.scalars(q.execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFound(f"application {application_id} not found")
    return row


def load_with(s: Session, engine: Engine, principal: Principal, application_id: str, *columns: Any
              ) -> tuple[Any, ...]:
    """``load`` and ``columns`` (scalar subqueries correlated with the application) in one statement:
    ``(application, *values)``."""
    q = select(Application, *columns).where(Application.id == application_id, *_scope(engine, principal))
    row = s.execute(q.execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFound(f"application {application_id} not found")
    return tuple(row)


def acting_on(s: Session, engine: Engine, principal: Principal, application_id: str, *, lock: bool = False,
         manage: bool = False) -> Application:
    """An application the caller may act on: their own, or (``manage``) any in their scope when
    they hold ``application:manage``."""
    app = load(s, engine, principal, application_id, lock=lock)
    if app.applicant_id == principal.user_id:
        return app
    if manage and engine.authorizer.allowed(principal, MANAGE):
        return app
    raise PermissionDenied(f"only the applicant may do this to application {app.number}")


def get(engine: Engine, principal: Principal, application_id: str, *, extras: bool = False) -> dict[str, Any]:
    """The application, its items and attachments, its process history, current tasks and order;
    ``extras``: with what other domains add (``DETAIL_HOOKS``: the quote), for the detail view."""
    with engine.db.autocommit() as s:  # no snapshot needed across the reads (PostgreSQL's READ COMMITTED has none)
        app, items = load_with_items(s, engine, principal, application_id)
        return _detail(s, app, hooks=extras, items=items)


def detail_as_committed(engine: Engine, app: Application, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The detail of an application that the caller's own transaction loaded under its lock, changed
    through the process's ports and committed: its row and items as they were committed (no read
    again), the rest read now."""
    with engine.db.autocommit() as s:
        return _detail(s, app, items=items)


def load_with_items(s: Session, engine: Engine, principal: Principal, application_id: str, *, lock: bool = False
                     ) -> tuple[Application, list[dict[str, Any]]]:
    """``load`` and ``item_dicts`` in one statement: the application joined with its items (the
    application's row locked with ``lock``)."""
    query = (select(Application, ApplicationItem)
             .outerjoin(ApplicationItem, ApplicationItem.application_id == Application.id)
             .where(Application.id == application_id, *_scope(engine, principal))
             .order_by(ApplicationItem.position).execution_options(populate_existing=True))
    rows = s.execute(query.with_for_update(of=Application) if lock else query).all()
    if not rows:
        raise NotFound(f"application {application_id} not found")
    items = [item_dict(item) for _app, item in rows if item is not None]
    return rows[0][0], items


# -- lists --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    mine: bool = False
    tenant_id: str | None = None  # platform staff only
    organization_id: str | None = None
    applicant: str | None = None  # user name
    business_system_id: str | None = None
    number: str | None = None  # part of the number
    status: tuple[str, ...] = ()


def _filtered(engine: Engine, principal: Principal, f: Filters) -> Any:
    q = select(Application).where(*_scope(engine, principal))
    if f.mine:
        q = q.where(Application.applicant_id == principal.user_id)
    if f.tenant_id and principal.is_platform:
        q = q.where(Application.tenant_id == f.tenant_id)
    for column, value in ((Application.organization_id, f.organization_id), (Application.applicant, f.applicant),
                          (Application.business_system_id, f.business_system_id)):
        if value:
            q = q.where(column == value)
    if f.number:
        q = q.where(func.lower(Application.number).like(catalog.like_pattern(f.number.strip()), escape="\\"))
    if f.status:
        q = q.where(Application.status.in_(f.status))
    return q


def list_applications(engine: Engine, principal: Principal, filters: Filters, *, offset: int = 0,
                      limit: int = 20) -> tuple[list[dict[str, Any]], int]:
    """Newest first."""
    q = _filtered(engine, principal, filters)
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.scalars(q.order_by(Application.created_at.desc(), Application.id.desc())
                         .limit(limit).offset(offset)).all()
        return [summary(r) for r in rows], int(total)


CSV_COLUMNS = ("number", "title", "status", "applicant", "organization", "business_system", "vcpu", "memory_gib",
               "disk_gib", "gpus", "instances", "eips", "approvals", "submitted_at", "decided_at", "created_at",
               "order_number", "purpose")
MAX_EXPORT = 50_000


def export_rows(engine: Engine, principal: Principal, filters: Filters) -> Iterator[list[Any]]:
    """CSV rows (header first) of the applications the filters select, newest first."""
    yield list(CSV_COLUMNS)
    q = _filtered(engine, principal, filters).order_by(Application.created_at.desc(), Application.id.desc())
    with engine.db.read() as s:
        apps = s.scalars(q.limit(MAX_EXPORT)).all()
        ids = [a.id for a in apps]
        org_codes = dict(s.execute(select(Organization.id, Organization.code).where(
            Organization.id.in_({a.organization_id for a in apps}))).all()) if apps else {}
        system_codes = dict(s.execute(select(BusinessSystem.id, BusinessSystem.code).where(
            BusinessSystem.id.in_({a.business_system_id for a in apps}))).all()) if apps else {}
        order_numbers = dict(s.execute(select(Order.application_id, Order.number).where(
            Order.application_id.in_(ids))).all()) if ids else {}
        items: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            for row in s.scalars(select(ApplicationItem).where(ApplicationItem.application_id.in_(ids))):
                items[row.application_id].append(item_dict(row))
    for app in apps:
        t = totals(items[app.id])
        yield [app.number, app.title, app.status, app.applicant, org_codes.get(app.organization_id, ""),
               system_codes.get(app.business_system_id, ""), t["vcpu"], t["memory_gib"], t["disk_gib"], t["gpus"],
               t["instances"], t["eips"], app.approvals, _iso(app.submitted_at), _iso(app.decided_at),
               _iso(app.created_at), order_numbers.get(app.id, ""), app.purpose]


def _iso(value: Any) -> str:
    return value.isoformat() if value is not None else ""


# -- drafts -------------------------------------------------------------------------------------------

def text_field(value: Any, field: str, max_len: int, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > max_len or (required and not value.strip()):
        raise _field_error(field, f"{'non-empty ' if required else ''}text of at most {max_len} characters")
    return value.strip()


def _business_system(s: Session, tenant_id: str, business_system_id: Any) -> str:
    if not isinstance(business_system_id, str) or s.scalar(select(BusinessSystem.id).where(
            BusinessSystem.id == business_system_id, BusinessSystem.tenant_id == tenant_id)) is None:
        raise _field_error("business_system_id", "no such business system in your tenant")
    return business_system_id


def term_of(value: Any, field: str) -> int | None:
    """A line's purchased term in months, or None (no term: it runs until terminated)."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TERM_MONTHS:
        raise _field_error(field, f"a whole number of months from 1 to {MAX_TERM_MONTHS}, or null for no term")
    return value


def _lines(s: Session, principal: Principal, items: list[dict[str, Any]] | None,
           cart_item_ids: list[str] | None, *, keep_cart: bool = False) -> list[dict[str, Any]]:
    """Item columns for each requested spec: cart items first (taken out of the cart unless
    ``keep_cart``), then direct ones."""
    tenant_id = tenant_user(principal)
    wanted: list[tuple[str, int, int | None, str]] = []
    if cart_item_ids:
        wanted += [(spec, qty, None, "cart_item_ids")
                   for spec, qty in take(s, principal, list(cart_item_ids), remove=not keep_cart)]
    for i, item in enumerate(items or []):
        if not isinstance(item, dict):
            raise _field_error(f"items[{i}]", "an object with spec_id and quantity")
        wanted.append((item.get("spec_id"), quantity_of(item.get("quantity", 1), f"items[{i}].quantity"),
                       term_of(item.get("term_months"), f"items[{i}].term_months"), f"items[{i}].spec_id"))
    if not wanted:
        raise _field_error("items", "an application needs at least one item (items or cart_item_ids)")
    if len(wanted) > MAX_ITEMS:
        raise _field_error("items", f"at most {MAX_ITEMS} items")
    lines = []
    for spec_id, quantity, term_months, field in wanted:
        product, spec = catalog.orderable_spec(s, tenant_id, spec_id, field=field)
        lines.append({"product_id": product.id, "spec_id": spec.id, "product_name": product.name,
                      "spec_name": spec.name, "quantity": quantity, "term_months": term_months, **spec.vector()})
    return lines


def _store_items(s: Session, app: Application, lines: list[dict[str, Any]]) -> None:
    for old in s.scalars(select(ApplicationItem).where(ApplicationItem.application_id == app.id)):
        s.delete(old)
    s.flush()
    s.add_all(ApplicationItem(application_id=app.id, tenant_id=app.tenant_id, position=i, **line)
              for i, line in enumerate(lines))


def create(engine: Engine, principal: Principal, *, business_system_id: str, purpose: str, title: str = "",
           items: list[dict[str, Any]] | None = None, cart_item_ids: list[str] | None = None,
           keep_cart: bool = False, ip: str | None = None) -> dict[str, Any]:
    """A draft application; ``submit`` sends it on its way."""
    tenant_id = tenant_user(principal)
    if principal.organization_id is None:
        raise PermissionDenied("only a user who belongs to an organisation may apply (their quota is booked there)")
    title = text_field(title, "title", 200)
    purpose = text_field(purpose, "purpose", 2000, required=True)
    with engine.db.write() as s:
        system = _business_system(s, tenant_id, business_system_id)
        lines = _lines(s, principal, items, cart_item_ids, keep_cart=keep_cart)
        app = Application(tenant_id=tenant_id, number=orders.new_number("AP"), title=title,
                          purpose=purpose,
                          applicant_id=principal.user_id, applicant=principal.username,
                          organization_id=principal.organization_id, business_system_id=system, status="draft")
        s.add(app)
        s.flush()
        _store_items(s, app, lines)
        s.flush()
        audit.record(s, action="application.create", actor=principal.username, tenant_id=tenant_id,
                     target_type="application", target_id=app.id, detail={"number": app.number, "items": len(lines)},
                     ip=ip)
        return _detail(s, app)




_UNSET: Any = object()


def update(engine: Engine, principal: Principal, application_id: str, *, title: Any = _UNSET, purpose: Any = _UNSET,
           business_system_id: Any = _UNSET, items: list[dict[str, Any]] | None = None,
           cart_item_ids: list[str] | None = None, ip: str | None = None) -> dict[str, Any]:
    """Edit a draft or a returned (rejected) application; new ``items``/``cart_item_ids`` replace the items."""
    with engine.db.write() as s:
        app = acting_on(s, engine, principal, application_id, lock=True)
        if app.status not in EDITABLE:
            raise Conflict(f"application {app.number} is {app.status}; only a draft or a rejected one can be edited")
        if title is not _UNSET:
            app.title = text_field(title, "title", 200)
        if purpose is not _UNSET:
            app.purpose = text_field(purpose, "purpose", 2000, required=True)
        if business_system_id is not _UNSET:
            app.business_system_id = _business_system(s, app.tenant_id, business_system_id)
        if items is not None or cart_item_ids is not None:
            _store_items(s, app, _lines(s, principal, items, cart_item_ids))
        app.updated_at = clock.now()
        s.flush()
        audit.record(s, action="application.update", actor=principal.username, tenant_id=app.tenant_id,
                     target_type="application", target_id=app.id, detail={"number": app.number}, ip=ip)
        return _detail(s, app)
