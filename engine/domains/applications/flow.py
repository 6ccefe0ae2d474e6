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

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import WorkflowException
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.domains.applications.models import Application
from engine.domains.applications.ports import item_dicts, strict
from engine.domains.applications.service import (
    acting_on,
    create,
    current_tasks,
    get,
    load,
    running_instance_or_none,
    text_field,
)
from engine.domains.cart.service import discard_lines
from engine.errors import Conflict
from engine.models import HumanTask, HumanTaskCandidate
from engine.principal import Principal
from engine.runtime.steps import advance
from engine.site_messages import deliver
from engine.tenancy.access import PermissionDenied
from engine.timers import event_definitions, waiting_catches

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
    with engine.db.read() as s:
        app = acting_on(s, engine, principal, application_id)
        if app.status != "draft":
            raise Conflict(f"application {app.number} is {app.status}; only a draft can be submitted"
                           + ("; resubmit a rejected one" if app.status == "returned" else ""))
        if not item_dicts(s, app.id):
            raise Conflict(f"application {app.number} has no items")
        tenant_id, number, title = app.tenant_id, app.number, app.title
    variables = {"application_id": application_id, "application_number": number, "title": title,
                 "approval_timeout": engine.settings.approval_timeout}
    with strict():
        engine.runtime.start(PROCESS_KEY, tenant_id=tenant_id, initiator=principal.username,
                             business_key=application_id, variables=variables, ip=ip)
    return get(engine, principal, application_id)


def _running_instance(s: Session, app: Application) -> str:
    found = running_instance_or_none(s, app)
    if found is None:
        raise Conflict(f"application {app.number} has no running process")
    return found


def _cancel_event(workflow: Any) -> BpmnEvent | None:
    """The withdraw/cancel message event the workflow waits for, if it does now."""
    for task in waiting_catches(workflow):
        for definition in event_definitions(task):
            if isinstance(definition, MessageEventDefinition) and definition.name == CANCEL_MESSAGE:
                return BpmnEvent(definition, payload={})
    return None


def _stop(engine: Engine, principal: Principal, application_id: str, *, to_status: str, ip: str | None) -> None:
    """Send ``application_cancel`` to a pending application's process, under its lock: the process
    releases the quota and marks the application ``to_status`` (draft: withdrawn)."""
    manage = to_status == "cancelled"
    with engine.db.read() as s:
        app = acting_on(s, engine, principal, application_id, manage=manage)
        if app.status != "pending":
            raise Conflict(f"application {app.number} is {app.status}, not pending approval")
        instance_id, tenant_id = _running_instance(s, app), app.tenant_id
    acting_as_manager = manage and app.applicant_id != principal.user_id
    with engine.runtime.mutation(instance_id, tenant_id=tenant_id, actor=principal.username) as (s, loaded):
        app = s.scalars(select(Application).where(Application.id == application_id).with_for_update()
                        .execution_options(populate_existing=True)).one()
        if app.status != "pending":
            raise Conflict(f"application {app.number} is {app.status}, not pending approval")
        if app.approvals and not acting_as_manager:
            raise Conflict(f"application {app.number} already has an approval; it can no longer be "
                           f"{'withdrawn' if to_status == 'draft' else 'cancelled by its applicant'}")
        event = _cancel_event(loaded.workflow)
        if event is None:
            raise Conflict(f"the process of application {app.number} cannot be stopped at this step")
        event.payload = {"status": to_status, "by": principal.username}
        try:
            loaded.workflow.send_event(event)
        except WorkflowException as exc:
            raise Conflict(f"the process of application {app.number} cannot be stopped: {exc}") from exc
        advance(loaded.workflow, loaded.kind, loaded.host)
        audit.record(s, action="application.withdraw" if to_status == "draft" else "application.cancel",
                     actor=principal.username, tenant_id=tenant_id, target_type="application", target_id=app.id,
                     detail={"number": app.number}, ip=ip)


def decide(engine: Engine, principal: Principal, application_id: str, *, decision: str,
           comment: str | None = None) -> dict[str, Any]:
    """Approve or reject a pending application at the step waiting for the caller: completes that
    task through the inbox (its form checks the data), whoever the caller is (an approver, a tenant
    administrator, a platform operator)."""
    from engine.models import HumanTaskCandidate as Candidate

    with engine.db.read() as s:
        app = load(s, engine, principal, application_id)
        if app.status != "pending":
            raise Conflict(f"application {app.number} is {app.status}, not waiting for approval")
        instance_id, tenant_id = _running_instance(s, app), app.tenant_id
        offered = (Candidate.kind == "user") & (Candidate.value == principal.username)
        roles = list(principal.acting_roles)
        if roles:
            offered = offered | ((Candidate.kind == "role") & Candidate.value.in_(roles))
        task_id = s.scalar(select(HumanTask.id).join(Candidate, Candidate.task_id == HumanTask.id)
                           .where(HumanTask.instance_id == instance_id, offered,
                                  (HumanTask.assignee.is_(None)) | (HumanTask.assignee == principal.username))
                           .order_by(HumanTask.created_at).limit(1))
    if task_id is None:
        raise Conflict(f"application {app.number} is not waiting for you")
    data: dict[str, Any] = {"decision": decision}
    if comment:
        data["comment"] = comment
    _inbox(engine).complete(tenant_id, task_id, user=principal.username, data=data, roles=roles)
    return get(engine, principal, application_id)


def withdraw(engine: Engine, principal: Principal, application_id: str, *, ip: str | None = None) -> dict[str, Any]:
    """Take a pending application back to draft (only until its first approval); the quota is released."""
    _stop(engine, principal, application_id, to_status="draft", ip=ip)
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
    with engine.db.read() as s:
        app = acting_on(s, engine, principal, application_id)
        if app.status != "returned":
            raise Conflict(f"application {app.number} is {app.status}; only a rejected one can be "
                           f"{'resubmitted' if action == 'resubmit' else 'cancelled this way'}")
        if action == "resubmit" and not item_dicts(s, app.id):
            raise Conflict(f"application {app.number} has no items")
        task_id, tenant_id, applicant = _applicant_task(s, app), app.tenant_id, app.applicant
    with strict():
        _inbox(engine).complete(tenant_id, task_id, user=applicant, data={"action": action})


def resubmit(engine: Engine, principal: Principal, application_id: str) -> dict[str, Any]:
    """Send a rejected (and edited) application to approval again; 409 when the quota is short."""
    _finish_revision(engine, principal, application_id, "resubmit")
    return get(engine, principal, application_id)


def cancel(engine: Engine, principal: Principal, application_id: str, *, ip: str | None = None) -> dict[str, Any]:
    """Cancel a draft (directly), a rejected application (through its process) or a pending one
    (through its process; the applicant only before the first approval, a manager any time)."""
    with engine.db.write() as s:
        app = acting_on(s, engine, principal, application_id, lock=True, manage=True)
        status = app.status
        if status == "draft":
            app.status, app.decided_at, app.updated_at = "cancelled", clock.now(), clock.now()
            audit.record(s, action="application.cancel", actor=principal.username, tenant_id=app.tenant_id,
                         target_type="application", target_id=app.id, detail={"number": app.number}, ip=ip)
    if status == "returned":
        if app.applicant_id != principal.user_id:
            raise PermissionDenied(f"application {app.number} waits for its applicant, who may cancel it")
        _finish_revision(engine, principal, application_id, "cancel")
    elif status == "pending":
        _stop(engine, principal, application_id, to_status="cancelled", ip=ip)
    elif status != "draft":
        raise Conflict(f"application {app.number} is {status}; it cannot be cancelled")
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
