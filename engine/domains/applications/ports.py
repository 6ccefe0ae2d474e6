"""The applications domain's implementation of the ports in ``tasks.ports`` (applications, quota,
orders), for one write transaction.

Each call runs in its own SAVEPOINT of the transaction that runs the process step (see
``engine.ports``). Every call is bound to the instance whose service task makes it
(``engine.runtime.services.current_scope``): it reaches only the application that instance was
started for (its business key) inside the instance's tenant, and any other id answers as unknown,
so a process cannot name another tenant's application nor a colleague's. Only the platform's own
application processes (``internal``: started by ``engine.domains.applications.flow``, which checked
the caller) may change an application, its quota or its order; a process started by a request may
read its initiator's own application and nothing more.

``strict()`` marks a submission: inside it, a quota reservation the port refused makes the save
fail with ``SubmissionRefused`` (409), so a refused submission leaves no instance and no reservation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from engine import audit, clock
from engine.domains.applications.models import Application, ApplicationItem
from engine.domains.applications.status import (
    HAS_ORDER,
    MARKABLE,
    QUOTA_TRANSITIONS,
    Actor,
    NotAllowed,
    take,
    take_quota,
)
from engine.domains.orders import service as orders
from engine.errors import Conflict
from engine.models import Organization, Role, User, UserRole
from engine.ports import LOCKED_ROWS, Port, bound_ports, instance_scope
from engine.tenancy import quotas
from tasks.ports import QuotaShort, Refused

ITEM_FIELDS = orders.ITEM_FIELDS
_ITEMS = "aicmp_application_items"  # key of a port session's info
_strict: ContextVar[bool] = ContextVar("aicmp_strict_submission", default=False)


class SubmissionRefused(Conflict):
    """A submission whose quota reservation was refused: nothing was stored. ``errors`` names the
    dimension and the level that is short (``code`` quota_short) or says it was submitted twice."""

    def __init__(self, message: str, *, errors: list[dict[str, Any]], code: str = "conflict") -> None:
        super().__init__(message, errors=errors)
        self.code = code


@contextmanager
def strict() -> Iterator[None]:
    """Within: a refused quota reservation fails the transaction (QuotaRefused) instead of letting
    the process handle the BPMN error."""
    token = _strict.set(True)
    try:
        yield
    finally:
        _strict.reset(token)


def refuse_short_submissions(_s: Session, _loaded: Any) -> None:
    """Save hook: inside ``strict()``, a refused reservation rolls the whole step back."""
    if not _strict.get():
        return
    ports = bound_ports()
    if ports is None or not ports.refusals:
        return
    first = ports.refusals[0]
    raise SubmissionRefused(first["message"], errors=list(ports.refusals),
                            code="quota_short" if first["code"] == "quota_short" else "conflict")


def _application(s: Session, application_id: Any, *, change: bool) -> Application:
    """The application ``application_id`` as the calling instance may reach it (locked to change it).

    ``s`` is the transaction's shared port session: the first call that changes the application
    locks and reloads it, later calls of the same transaction find it in the identity map (no
    other writer can change a locked row, and the step's own changes go through this session).
    """
    scope = instance_scope()
    unknown = Refused("UNKNOWN_APPLICATION", f"no application {application_id!r}")
    if not isinstance(application_id, str) or not application_id or application_id != scope.business_key:
        raise unknown
    if change and not scope.internal:
        raise Refused("NOT_PERMITTED", f"process {scope.process_key!r} may not change applications: only the "
                                       "platform's application processes do")
    locked: dict[Any, Any] = s.info.setdefault(LOCKED_ROWS, {})  # strong references: the map is weak
    row = locked.get(("application", application_id))
    if row is None and (change or scope.internal):  # the platform's own process changes it soon: lock at once
        rows = s.execute(select(Application, ApplicationItem)  # with its items, which later calls read
                         .outerjoin(ApplicationItem, ApplicationItem.application_id == Application.id)
                         .where(Application.id == application_id, Application.tenant_id == scope.tenant_id)
                         .order_by(ApplicationItem.position).with_for_update(of=Application)
                         .execution_options(populate_existing=True)).all()
        if rows:
            row = rows[0][0]
            locked[("application", application_id)] = row
            s.info.setdefault(_ITEMS, {})[application_id] = [item_dict(item) for _a, item in rows if item is not None]
    elif row is None:
        row = s.get(Application, application_id)
        if row is not None and row.tenant_id != scope.tenant_id:
            row = None
    if row is None or (not scope.internal and row.applicant != scope.initiator):
        raise unknown
    return row


def item_dict(row: ApplicationItem) -> dict[str, Any]:
    return {f: getattr(row, f) for f in ITEM_FIELDS}


def item_dicts(s: Session, application_id: str) -> list[dict[str, Any]]:
    rows = s.scalars(select(ApplicationItem).where(ApplicationItem.application_id == application_id)
                     .order_by(ApplicationItem.position)).all()
    return [item_dict(r) for r in rows]


def _items_once(s: Session, application_id: str) -> list[dict[str, Any]]:
    """``item_dicts``, read once per port session: no port changes an application's items."""
    cache: dict[str, list[dict[str, Any]]] = s.info.setdefault(_ITEMS, {})
    if application_id not in cache:
        cache[application_id] = item_dicts(s, application_id)
    return [dict(item) for item in cache[application_id]]


@contextmanager
def process_session(fallback: Session) -> Iterator[Session]:
    """The session the process's service tasks will use in this write transaction (the shared
    port session), for a start's check that loads what the first steps need; ``fallback`` where
    no ports are bound."""
    ports = bound_ports()
    if ports is None:
        yield fallback
        return
    with ports.reading() as s:
        yield s


def hold_for_the_process(s: Session, app: Application, items: list[dict[str, Any]]) -> None:
    """``app``, loaded and locked by a start's check in ``process_session``, and its items: the
    process's first steps find them there (``_application``, ``_items_once``) instead of reading
    them again."""
    s.info.setdefault(LOCKED_ROWS, {})[("application", app.id)] = app
    s.info.setdefault(_ITEMS, {})[app.id] = [dict(item) for item in items]


def facts(s: Session, app: Application) -> dict[str, Any]:
    return {"id": app.id, "number": app.number, "title": app.title, "tenant_id": app.tenant_id,
            "organization_id": app.organization_id, "business_system_id": app.business_system_id,
            "applicant": app.applicant, "status": app.status, "approvals": app.approvals,
            "submissions": app.submissions, "items": _items_once(s, app.id)}


class Applications(Port):
    def get(self, application_id: str) -> dict[str, Any]:
        with self._ports.reading() as s:
            return facts(s, _application(s, application_id, change=False))

    def approvers(self, application_id: str, role: str) -> list[str]:
        with self._ports.reading() as s:
            app = _application(s, application_id, change=False)
            own = aliased(Organization)  # the applicant's; each holder's organisation is it or above it
            holders = s.execute(
                select(Organization.path, User.username).join(UserRole, UserRole.user_id == User.id)
                .join(Role, Role.id == UserRole.role_id).join(Organization, Organization.id == User.organization_id)
                .join(own, and_(own.id == app.organization_id, own.tenant_id == app.tenant_id,
                                func.substr(own.path, 1, func.length(Organization.path)) == Organization.path))
                .where(User.tenant_id == app.tenant_id, User.enabled.is_(True), User.username != app.applicant,
                       Role.code == role, (Role.tenant_id.is_(None)) | (Role.tenant_id == app.tenant_id))
                .order_by(User.username)).all()
            if not holders:
                return []
            nearest = max((path for path, _name in holders), key=len)  # the applicant's own first, then upwards
            return list(dict.fromkeys(name for path, name in holders if path == nearest))

    def mark(self, application_id: str, status: str, *, comment: str | None = None) -> dict[str, Any]:
        if status not in MARKABLE:
            raise Refused("INVALID_STATUS", f"status {status!r} is not one of {', '.join(MARKABLE)}")
        with self._ports.session() as s:
            app = _application(s, application_id, change=True)
            previous = app.status
            if previous == status:
                return {"status": status, "previous": previous}
            try:
                take(app, Actor.PROCESS, to=status, comment=comment)
            except NotAllowed as exc:
                raise Refused(exc.reason, exc.message) from exc
            return {"status": status, "previous": previous}

    def record_decision(self, application_id: str, step: str, decision: str, comment: str | None) -> dict[str, Any]:
        with self._ports.session() as s:
            app = _application(s, application_id, change=True)
            if app.status != "pending":
                raise Refused("NOT_PENDING", f"application {app.number} is {app.status}, not pending approval")
            if decision == "approve":
                app.approvals += 1
            if comment:
                app.last_comment = str(comment)[:2000]
            app.updated_at = clock.now()
            return {"step": step, "comment": comment, "approvals": app.approvals}


def _amounts(values: dict[str, Any]) -> dict[str, Decimal]:
    return {k: Decimal(str(v)) for k, v in values.items() if Decimal(str(v))}


class Quotas(Port):
    def reserve(self, application_id: str, demand: dict[str, Decimal]) -> dict[str, str]:
        with self._ports.session() as s:
            app = _application(s, application_id, change=True)
            if app.quota_state == "reserved":
                message = f"application {app.number} already holds a reservation (submitted twice?)"
                self._ports.refusals.append({"code": "already_reserved", "message": message})
                raise Refused("ALREADY_RESERVED", message)
            wanted = _amounts(demand)
            try:
                quotas.reserve(s, app.tenant_id, app.organization_id, wanted)
            except Conflict as exc:
                error = dict((exc.errors or [{}])[0])
                self._ports.refusals.append({"code": "quota_short", "message": exc.message, **error})
                raise QuotaShort(error.get("dimension", "?"), error.get("level_label", error.get("level", "?")),
                                 Decimal(error.get("requested", "0")), Decimal(error.get("available", "0"))) from exc
            app.quota_state, app.reserved = "reserved", {k: str(v) for k, v in wanted.items()}
            audit.record(s, action="quota.reserve", actor=None, tenant_id=app.tenant_id, target_type="application",
                         target_id=app.id, detail={"number": app.number, "amounts": app.reserved})
            return dict(app.reserved)

    def commit(self, application_id: str) -> dict[str, str]:
        with self._ports.session() as s:
            app = _application(s, application_id, change=True)
            if app.quota_state != "reserved":
                raise Refused("NOT_RESERVED", f"application {app.number} holds no reservation ({app.quota_state})")
            held = dict(app.reserved or {})
            quotas.commit_reserved(s, app.tenant_id, app.organization_id, _amounts(held))
            app.quota_state = "committed"
            audit.record(s, action="quota.commit", actor=None, tenant_id=app.tenant_id, target_type="application",
                         target_id=app.id, detail={"number": app.number, "amounts": held})
            return held

    def release(self, application_id: str) -> dict[str, str]:
        with self._ports.session() as s:
            return release_reservation(s, _application(s, application_id, change=True))


def release_reservation(s: Session, app: Application) -> dict[str, str]:
    """Give back what a (locked) application holds in process; nothing when it holds nothing."""
    if (app.quota_state, "released") not in QUOTA_TRANSITIONS:
        return {}
    held = dict(app.reserved or {})
    quotas.release(s, app.tenant_id, app.organization_id, _amounts(held))
    take_quota(app, "released")
    app.reserved = {}
    audit.record(s, action="quota.release", actor=None, tenant_id=app.tenant_id, target_type="application",
                 target_id=app.id, detail={"number": app.number, "amounts": held})
    return held


class Orders(Port):
    def create(self, application_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        with self._ports.session() as s:
            app = _application(s, application_id, change=True)
            order = orders.for_application(s, app.id) if app.status in HAS_ORDER else None
            if order is not None:
                return {"order_id": order.id, "number": order.number, "created": False}
            try:  # approved -> ordered, its quota held
                take(app, Actor.ORDERS, to="ordered")
            except NotAllowed as exc:
                raise Refused(exc.reason, exc.message) from exc
            order = orders.create_order(s, app, lines)
            return {"order_id": order.id, "number": order.number, "created": True}
