"""Redemptions for the API: a tenant asks, an operator decides; the ``voucher_redemption`` process
does the rest (quote, hold, review, apply or release: ``bpmn/voucher_redemption.bpmn``).

``request`` stores the redemption and starts its process, whose first steps quote and hold in the
start's own transaction; ``decide`` completes the process's review task through the inbox. The
process is internal: a start request through /process-instances is refused (403).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from engine import audit
from engine.domains.accounts.bills import closed_bill
from engine.domains.vouchers import fields
from engine.domains.vouchers.models import REDEMPTION_STATUSES, Campaign, Redemption, Voucher
from engine.domains.vouchers.ports import deciding
from engine.domains.vouchers.redemption_rules import period_of
from engine.errors import Conflict, Forbidden, NotFound
from engine.models import HumanTask, ProcessInstance
from engine.principal import Principal
from engine.runtime.instances import ACTIVE

if TYPE_CHECKING:
    from engine.core import Engine

PROCESS_KEY = "voucher_redemption"
DECISIONS = ("approve", "reduce", "reject")


def _inbox(engine: Engine) -> Any:
    from engine.inbox import Inbox

    return getattr(engine, "inbox", None) or Inbox(engine)


def describe(r: Redemption) -> dict[str, Any]:
    return {"id": r.id, "tenant_id": r.tenant_id, "voucher_id": r.voucher_id, "campaign_id": r.campaign_id,
            "bill_id": r.bill_id, "bill_total": r.bill_total, "period": r.period, "requested": r.requested,
            "quoted": r.quoted, "held": r.held, "applied": r.applied, "status": r.status,
            "requested_by": r.requested_by, "decided_by": r.decided_by, "comment": r.comment, "reason": r.reason,
            "created_at": r.created_at, "decided_at": r.decided_at}


def _load(s: Any, principal: Principal, redemption_id: str) -> Redemption:
    r = s.get(Redemption, redemption_id)
    if r is None or (not principal.is_platform and r.tenant_id != principal.tenant_id):
        raise NotFound(f"redemption {redemption_id} not found")
    return r


def request(engine: Engine, principal: Principal, *, voucher_id: Any, bill_id: Any, amount: Any = None,
            ip: str | None = None) -> dict[str, Any]:
    """Ask to redeem the voucher against the tenant's closed bill (``amount``: at most this much;
    none: as much as the rules allow). The process quotes and holds at once; a redemption the rules
    leave nothing for ends ``refused`` with the reason."""
    if principal.tenant_id is None:
        raise Forbidden("a tenant user redeems their tenant's vouchers")
    voucher_id = fields.text(voucher_id, "voucher_id", 36, required=True)
    bill_id = fields.text(bill_id, "bill_id", 36, required=True)
    wanted = None if amount is None else fields.money(amount, "amount", positive=True)
    with engine.db.write() as s:
        voucher = s.scalars(select(Voucher).where(Voucher.id == voucher_id,
                                                  Voucher.tenant_id == principal.tenant_id)).first()
        if voucher is None:
            raise fields.bad("voucher_id", "no such voucher of your tenant")
        bill = closed_bill(s, principal.tenant_id, bill_id)
        campaign = s.get(Campaign, voucher.campaign_id)
        r = Redemption(tenant_id=principal.tenant_id, voucher_id=voucher.id, campaign_id=campaign.id, bill_id=bill.id,
                       bill_total=bill.total, period=period_of(bill.period, campaign.frequency), requested=wanted,
                       status="requested", requested_by=principal.username)
        s.add(r)
        s.flush()
        audit.record(s, action="voucher.redemption.request", actor=principal.username, tenant_id=r.tenant_id,
                     target_type="voucher_redemption", target_id=r.id,
                     detail={"voucher": voucher.number, "bill_id": bill.id, "requested": str(wanted)}, ip=ip)
        redemption_id, tenant_id = r.id, r.tenant_id
    try:
        engine.runtime.start(PROCESS_KEY, tenant_id=tenant_id, initiator=principal.username,
                             business_key=redemption_id, variables={"redemption_id": redemption_id}, ip=ip)
    except Exception as exc:
        with engine.db.write() as s:
            r = s.get(Redemption, redemption_id)
            if r is not None and r.status == "requested":
                r.status, r.reason = "refused", f"the redemption process did not start: {exc}"[:500]
                audit.record(s, action="voucher.redemption.refuse", actor=None, tenant_id=tenant_id,
                             target_type="voucher_redemption", target_id=redemption_id, detail={"reason": r.reason})
        raise
    return get(engine, principal, redemption_id)


def get(engine: Engine, principal: Principal, redemption_id: str) -> dict[str, Any]:
    with engine.db.read() as s:
        r = _load(s, principal, redemption_id)
        out = describe(r)
        instance = s.scalar(select(ProcessInstance.id).where(ProcessInstance.tenant_id == r.tenant_id,
                                                             ProcessInstance.process_key == PROCESS_KEY,
                                                             ProcessInstance.business_key == r.id)
                            .order_by(ProcessInstance.created_at.desc()).limit(1))
        out["instance_id"] = instance
        out["review_task_id"] = _review_task(s, r) if r.status == "held" else None
        return out


def _review_task(s: Any, r: Redemption) -> str | None:
    return s.scalar(select(HumanTask.id).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                    .where(ProcessInstance.tenant_id == r.tenant_id, ProcessInstance.business_key == r.id,
                           ProcessInstance.process_key == PROCESS_KEY, ProcessInstance.status.in_(ACTIVE),
                           HumanTask.task_spec == "review").limit(1))


def list_redemptions(engine: Engine, principal: Principal, *, status: str | None = None, bill_id: str | None = None,
                     voucher_id: str | None = None, tenant_id: str | None = None, offset: int = 0,
                     limit: int = 20) -> tuple[list[dict[str, Any]], int]:
    if status is not None and status not in REDEMPTION_STATUSES:
        raise fields.bad("status", f"one of {', '.join(REDEMPTION_STATUSES)}")
    q = select(Redemption)
    if not principal.is_platform:
        q = q.where(Redemption.tenant_id == principal.tenant_id)
    elif tenant_id:
        q = q.where(Redemption.tenant_id == tenant_id)
    for column, value in ((Redemption.status, status), (Redemption.bill_id, bill_id),
                          (Redemption.voucher_id, voucher_id)):
        if value:
            q = q.where(column == value)
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.scalars(q.order_by(Redemption.created_at.desc(), Redemption.id).offset(offset).limit(limit)).all()
        return [describe(r) for r in rows], int(total)


def decide(engine: Engine, principal: Principal, redemption_id: str, *, decision: str, amount: Any = None,
           comment: str | None = None) -> dict[str, Any]:
    """An operator's review: approve (all that is held), reduce (to ``amount``) or reject. Completes
    the process's review task; the process applies or releases in that same transaction."""
    if not principal.is_platform:
        raise Forbidden("platform operators review redemptions")
    if decision not in DECISIONS:
        raise fields.bad("decision", f"one of {', '.join(DECISIONS)}")
    if decision == "reduce":
        amount = str(fields.money(amount, "amount", positive=True))
    elif amount is not None:
        raise fields.bad("amount", "only a reduce decision names an amount")
    comment = fields.text(comment, "comment", 2000) or None
    with engine.db.read() as s:
        r = _load(s, principal, redemption_id)
        task_id = _review_task(s, r)
        tenant_id, held = r.tenant_id, r.held
        if decision == "reduce" and not fields.money(amount, "amount") < held:
            raise fields.bad("amount", f"less than the {held} held (approve to apply all of it)")
    if task_id is None:
        raise Conflict(f"redemption {redemption_id} is {r.status}: nothing waits for a review")
    data: dict[str, Any] = {"decision": decision}
    if amount is not None:
        data["amount"] = amount
    if comment:
        data["comment"] = comment
    token = deciding.set(principal.username)
    try:
        _inbox(engine).complete(tenant_id, task_id, user=principal.username, data=data,
                                roles=list(principal.acting_roles))
    finally:
        deciding.reset(token)
    return get(engine, principal, redemption_id)
