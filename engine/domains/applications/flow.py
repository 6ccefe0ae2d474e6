"""Applications through the ``application`` process: submit, withdraw, resubmit, cancel, decide, urge.

Submitting starts ``application`` (business key = the application id); its first steps reserve the
quota and mark the application pending, in the start's transaction, and a refused reservation fails
the submission with 409 leaving nothing (``engine.domains.applications.ports.strict``). Everything
after that is the process: approval, order, notices. Its status changes come through the operators'
ports (``engine.domains.applications.ports``); this module only starts the process, signals it (the
``application_cancel`` message for a withdrawal or cancellation, the applicant's revise task for a
resubmission) and completes approval steps through the inbox.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import audit
from engine.domains.applications.hooks import remember_number
from engine.domains.applications.models import Application
from engine.domains.applications.ports import hold_for_the_process, item_dicts, process_session, strict
from engine.domains.applications.service import (
    MANAGE,
    acting_on,
    create,
    current_tasks,
    detail_as_committed,
    get,
    load,
    load_with,
    load_with_items,
    running_instance_or_none,
    text_field,
)
from engine.domains.applications.status import Actor, take
from engine.domains.cart.service import discard_lines
from engine.errors import Conflict, NotFound
from engine.models import HumanTask, HumanTaskCandidate, ProcessInstance
from engine.principal import Principal
from engine.runtime.instances import ACTIVE
from engine.site_messages import deliver

if TYPE_CHECKING:
    from engine.core import Engine

PROCESS_KEY = "application"
# Started only by this module (and by each other as call activities), never by a start request.
INTERNAL_PROCESSES = (PROCESS_KEY, "approval", "order")
CANCEL_MESSAGE = "application_cancel"


def create_and_submit(engine: Engine, principal: Principal, *, ip: str | None = None,
                      **fields: Any) -> dict[str, Any]:
    """``create`` then ``submit``. When the submission is refused nothing is kept: the draft is
    deleted again and the cart lines it was made from stay in the cart."""
    draft = create(engine, principal, keep_cart=True, ip=ip, **fields)
    try:
        submitted = submit(engine, principal, draft["id"], ip=ip)
    except Exception:
        with engine.db.write() as s:
            s.execute(delete(Application).where(Application.id == draft["id"], Application.status == "draft"))
            audit.record(s, action="application.discard", actor=principal.username, tenant_id=draft["tenant_id"],
                         target_type="application", target_id=draft["id"],
                         detail={"number": draft["number"], "reason": "submission refused"}, ip=ip)
        raise
    if fields.get("cart_item_ids"):
        discard_lines(engine, principal, fields["cart_item_ids"])
    return submitted


def _inbox(engine: Engine) -> Any:
    from engine.inbox import Inbox

    return getattr(engine, "inbox", None) or Inbox(engine)


def submit(engine: Engine, principal: Principal, application_id: str, *, ip: str | None = None) -> dict[str, Any]:
    """Start ``application`` for a draft. 409 (``quota_short``, naming dimension and level) when the
    quota does not fit: then nothing was stored."""
    tenant_id = principal.tenant_id
    if tenant_id is None:  # platform staff: the application's tenant (checked again below)
        with engine.db.autocommit() as s:
            tenant_id = load(s, engine, principal, application_id).tenant_id

    held: list[tuple[Application, list[dict[str, Any]]]] = []

    def submittable(s: Session, _definition: Any, _bound: Any) -> dict[str, Any]:  # in the start's transaction
        with process_session(s) as ps:  # locked where the process's first steps (reserve, mark) find it
            app, items = load_with_items(ps, engine, principal, application_id, lock=True)
            if app.tenant_id != tenant_id:
                raise NotFound(f"application {application_id} not found")
            take(app, _actor(engine, principal, app), action="submit", has_items=bool(items))
            hold_for_the_process(ps, app, items)
        remember_number(s, app)
        held.append((app, items))
        return {"application_number": app.number, "title": app.title}

    variables = {"application_id": application_id, "approval_timeout": engine.settings.approval_timeout}
    with strict():
        engine.runtime.start(PROCESS_KEY, tenant_id=tenant_id,
                             initiator=principal.username, business_key=application_id, variables=variables, ip=ip,
                             check=submittable)
    return detail_as_committed(engine, *held[-1])


def _running_instance(s: Session, app: Application) -> str:
    found = running_instance_or_none(s, app)
    if found is None:
        raise Conflict(f"application {app.number} has no running process")
    return found


def _actor(engine: Engine, principal: Principal, app: Application) -> Actor | None:
    """Who the caller is to this application: its applicant, a manager (``application:manage``), or
    nobody the status table knows (None)."""
    if app.applicant_id == principal.user_id:
        return Actor.APPLICANT
    if engine.authorizer.allowed(principal, MANAGE):
        return Actor.MANAGER
    return None


def _stop(engine: Engine, principal: Principal, application_id: str, *, action: str, ip: str | None) -> None:
    """Send ``application_cancel`` to a pending application's process, under its lock: the process
    releases the quota and marks the application withdrawn (draft) or cancelled."""
    with engine.db.read() as s:
        app = load(s, engine, principal, application_id)
        take(app, _actor(engine, principal, app), action=action)
        instance_id, tenant_id = _running_instance(s, app), app.tenant_id
    with engine.runtime.mutation(instance_id, tenant_id=tenant_id, actor=principal.username) as (s, loaded):
        app = s.scalars(select(Application).where(Application.id == application_id).with_for_update()
                        .execution_options(populate_existing=True)).one()
        to_status, _t = take(app, _actor(engine, principal, app), action=action)  # again, under the lock
        try:
            engine.runtime.signal(loaded, CANCEL_MESSAGE, {"status": to_status, "by": principal.username})
        except Conflict as exc:
            raise Conflict(f"the process of application {app.number} cannot be stopped: {exc.message}") from exc
        audit.record(s, action="application.withdraw" if to_status == "draft" else "application.cancel",
                     actor=principal.username, tenant_id=tenant_id, target_type="application", target_id=app.id,
                     detail={"number": app.number}, ip=ip)


def decide(engine: Engine, principal: Principal, application_id: str, *, decision: str,
           comment: str | None = None) -> dict[str, Any]:
    """Approve or reject a pending application at the step waiting for the caller: completes that
    task through the inbox (its form checks the data), whoever the caller is (an approver, a tenant
    administrator, a platform operator)."""
    from engine.models import HumanTaskCandidate as Candidate

    offered = (Candidate.kind == "user") & (Candidate.value == principal.username)
    roles = list(principal.acting_roles)
    if roles:
        offered = offered | ((Candidate.kind == "role") & Candidate.value.in_(roles))
    waiting = (select(HumanTask.id).join(Candidate, Candidate.task_id == HumanTask.id)
               .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
               .where(ProcessInstance.tenant_id == Application.tenant_id,
                      ProcessInstance.business_key == Application.id, ProcessInstance.status.in_(ACTIVE), offered,
                      (HumanTask.assignee.is_(None)) | (HumanTask.assignee == principal.username))
               .order_by(ProcessInstance.created_at.desc(), HumanTask.created_at).limit(1))
    with engine.db.autocommit() as s:  # the application and its task for the caller, in one statement
        app, task_id, instance_id = load_with(  # the inbox checks the task again under the instance lock
            s, engine, principal, application_id, waiting.scalar_subquery(),
            waiting.with_only_columns(HumanTask.instance_id).scalar_subquery())
        take(app, Actor.APPROVER, action="reject" if decision == "reject" else "approve")
        tenant_id = app.tenant_id
        if task_id is None:
            _running_instance(s, app)  # 409 naming the missing process, if that is why
            raise Conflict(f"application {app.number} is not waiting for you")
    data: dict[str, Any] = {"decision": decision}
    if comment:
        data["comment"] = comment
    _inbox(engine).complete(tenant_id, task_id, user=principal.username, data=data, roles=roles,
                            instance_id=instance_id)
    return get(engine, principal, application_id)


def withdraw(engine: Engine, principal: Principal, application_id: str, *, ip: str | None = None) -> dict[str, Any]:
    """Take a pending application back to draft (only until its first approval); the quota is released."""
    _stop(engine, principal, application_id, action="withdraw", ip=ip)
    return get(engine, principal, application_id)


def _applicant_task(s: Session, app: Application) -> str:
    """The open task of the application's process that waits for its applicant (edit and resubmit)."""
    instance_id = _running_instance(s, app)
    task_id = s.scalar(select(HumanTask.id).join(HumanTaskCandidate, HumanTaskCandidate.task_id == HumanTask.id)
                       .where(HumanTask.instance_id == instance_id, HumanTaskCandidate.kind == "user",
                              HumanTaskCandidate.value == app.applicant).order_by(HumanTask.created_at.desc())
                       .limit(1))
    if task_id is None:
        raise Conflict(f"application {app.number} is not waiting for its applicant")
    return task_id


def _finish_revision(engine: Engine, principal: Principal, application_id: str, action: str) -> None:
    """Complete the applicant's revise task: ``resubmit`` (the process reserves and marks pending
    again) or ``cancel`` (it marks cancelled)."""
    with engine.db.read() as s:
        app = load(s, engine, principal, application_id)
        take(app, _actor(engine, principal, app), action=action,
             has_items=bool(item_dicts(s, app.id)) if action == "resubmit" else None)
        task_id, tenant_id, applicant = _applicant_task(s, app), app.tenant_id, app.applicant
    with strict():
        _inbox(engine).complete(tenant_id, task_id, user=applicant, data={"action": action})


def resubmit(engine: Engine, principal: Principal, application_id: str) -> dict[str, Any]:
    """Send a rejected (and edited) application to approval again; 409 when the quota is short."""
    _finish_revision(engine, principal, application_id, "resubmit")
    return get(engine, principal, application_id)


def cancel(engine: Engine, principal: Principal, application_id: str, *, ip: str | None = None) -> dict[str, Any]:
    """Cancel a draft (directly), a rejected application (through its process) or a pending one
    (through its process; the applicant only before the first approval, a manager any time): who
    may cancel what is ``status.TRANSITIONS``."""
    with engine.db.write() as s:
        app = load(s, engine, principal, application_id, lock=True)
        status = app.status
        _to, transition = take(app, _actor(engine, principal, app), action="cancel")
        if transition.direct:
            audit.record(s, action="application.cancel", actor=principal.username, tenant_id=app.tenant_id,
                         target_type="application", target_id=app.id, detail={"number": app.number}, ip=ip)
    if status == "returned":
        _finish_revision(engine, principal, application_id, "cancel")
    elif status == "pending":
        _stop(engine, principal, application_id, action="cancel", ip=ip)
    return get(engine, principal, application_id)


def urge(engine: Engine, principal: Principal, application_id: str, *, comment: str | None = None,
         ip: str | None = None) -> int:
    """Urge whoever the pending application waits for: its open tasks go to their holders' urged tab
    (``engine.inbox_tabs.urge``: applicant only, rate-limited, 429) and each holder gets a site
    message. Returns how many messages were written."""
    from engine.inbox_tabs import urge as urge_instance

    comment = text_field(comment, "comment", 500)
    with engine.db.write() as s:
        app = acting_on(s, engine, principal, application_id)
        if app.status != "pending":
            raise Conflict(f"application {app.number} is {app.status}, not waiting for approval")
        instance_id = _running_instance(s, app)
        urged = set(urge_instance(s, tenant_id=app.tenant_id, instance_id=instance_id, user=principal.username,
                                  ip=ip))
        entries: list[str] = []
        for task in current_tasks(s, [instance_id]):
            if task["id"] not in urged:
                continue
            if task["assignee"]:
                entries.append(task["assignee"])
            else:
                entries += [c[len("user:"):] if c.startswith("user:") else c for c in task["candidates"]]
        body = f"{app.applicant} asks you to act on application {app.number} \"{app.title}\"."
        if comment:
            body += f" Comment: {comment}"
        return deliver(s, app.tenant_id, [e for e in dict.fromkeys(entries) if e != app.applicant], kind="urged",
                       title=f"Reminder: application {app.number}", body=body,
                       link={"application_id": app.id, "number": app.number})
