"""What a redemption may cover, and moving its amounts: quote, hold, apply, release.

The amount is the least of: what the voucher has left (remaining less what other redemptions
hold), the campaign's ratio of the bill's eligible lines (``billing.money.round_line`` of
ratio x base: billing's one rounding rule) less what the campaign's vouchers already cover of the
bill, what is left of the bill, and what the tenant asked for. One voucher is redeemed at most once
per bill period (month or quarter: the campaign's frequency). An expired voucher covers nothing.

``hold`` and ``apply`` take the bill's lock and then the voucher's row lock (always in that order)
and compute the amount again under them, so concurrent redemptions of one voucher or one bill never
exceed its value, the ratio or the bill. ``apply`` moves the voucher, the redemption and the
tenant's ledger (a ``voucher_credit`` row) in the caller's one transaction. Every decision is audited.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.domains.accounts import ledger
from engine.domains.accounts.bills import ClosedBill, closed_bill, eligible_amount
from engine.domains.billing.money import round_line
from engine.domains.vouchers.locks import for_update, lock_bill
from engine.domains.vouchers.models import Campaign, Redemption, Voucher

ZERO = Decimal("0.00")
TAKEN = ("held", "applied")


class Refusal(Exception):
    """A redemption step that cannot go on; ``code`` is the BPMN error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def period_of(bill_period: str, frequency: str) -> str:
    """The redemption period of a bill month: itself (monthly) or its quarter (``2026-Q1``)."""
    if frequency == "quarterly":
        year, month = bill_period.split("-")
        return f"{year}-Q{(int(month) - 1) // 3 + 1}"
    return bill_period


def _taken(s: Session, r: Redemption, *conditions: Any) -> Decimal:
    total = s.scalar(select(func.coalesce(func.sum(Redemption.held + Redemption.applied), 0)).where(
        Redemption.id != r.id, Redemption.status.in_(TAKEN), *conditions))
    return Decimal(str(total)).quantize(Decimal("0.01"))


def compute(s: Session, r: Redemption, voucher: Voucher, campaign: Campaign, bill: ClosedBill) -> dict[str, Any]:
    """The quote: ``amount`` and each limit that bounds it (``limits``), ``reason`` when it is 0."""
    base = eligible_amount(s, bill, list(campaign.eligible or []))
    ratio_cap = round_line(base * campaign.redemption_ratio)
    limits = {
        "voucher": voucher.remaining - voucher.held + (r.held if r.status == "held" else ZERO),
        "ratio": ratio_cap - _taken(s, r, Redemption.bill_id == bill.id, Redemption.campaign_id == campaign.id),
        "bill": bill.total - _taken(s, r, Redemption.bill_id == bill.id),
    }
    if r.requested is not None:
        limits["requested"] = r.requested
    reason = None
    if voucher.status != "active" or clock.now() >= voucher.expires_at:
        reason = f"voucher {voucher.number} is {'expired' if voucher.status == 'active' else voucher.status}"
    elif s.scalar(select(func.count()).select_from(Redemption).where(
            Redemption.id != r.id, Redemption.voucher_id == voucher.id, Redemption.period == r.period,
            Redemption.status.in_(TAKEN))):
        reason = f"voucher {voucher.number} was redeemed in {r.period} already ({campaign.frequency})"
    amount = ZERO if reason else max(ZERO, min(limits.values()))
    if amount == 0 and reason is None:
        reason = "nothing left to cover: " + ", ".join(k for k, v in limits.items() if v <= 0)
    return {"amount": amount, "limits": {k: str(v) for k, v in limits.items()}, "ratio": str(campaign.redemption_ratio),
            "eligible_base": str(base), "bill_total": str(bill.total), "period": r.period, "reason": reason}


def _load(s: Session, r: Redemption, *, lock: bool) -> tuple[Voucher, Campaign, ClosedBill]:
    bill = closed_bill(s, r.tenant_id, r.bill_id)
    if lock:
        lock_bill(s, r.bill_id)
    q = select(Voucher).where(Voucher.id == r.voucher_id, Voucher.tenant_id == r.tenant_id)
    voucher = s.scalars((for_update(q) if lock else q).execution_options(populate_existing=True)).one()
    return voucher, s.get(Campaign, r.campaign_id), bill


def _audit(s: Session, r: Redemption, action: str, actor: str | None, **detail: Any) -> None:
    audit.record(s, action=f"voucher.redemption.{action}", actor=actor, tenant_id=r.tenant_id,
                 target_type="voucher_redemption", target_id=r.id,
                 detail={"voucher_id": r.voucher_id, "bill_id": r.bill_id, **{k: str(v) if isinstance(v, Decimal)
                                                                               else v for k, v in detail.items()}})


def quote(s: Session, r: Redemption) -> dict[str, Any]:
    voucher, campaign, bill = _load(s, r, lock=False)
    out = compute(s, r, voucher, campaign, bill)
    if r.status == "requested":
        r.quoted = out["amount"]  # a figure, not a decision: the hold that follows is audited
    return {**out, "amount": str(out["amount"])}


def hold(s: Session, r: Redemption) -> dict[str, Any]:
    """Hold the quoted amount of the voucher (computed again under the locks)."""
    if r.status == "held":
        return {"held": str(r.held)}
    if r.status != "requested":
        raise Refusal("NOT_REQUESTED", f"redemption {r.id} is {r.status}")
    voucher, campaign, bill = _load(s, r, lock=True)
    out = compute(s, r, voucher, campaign, bill)
    amount = out["amount"]
    if amount <= 0:
        raise Refusal("NOTHING_TO_REDEEM", out["reason"] or "nothing to redeem")
    voucher.held += amount
    r.held, r.quoted, r.status = amount, amount, "held"
    _audit(s, r, "hold", None, amount=amount, limits=out["limits"])
    return {"held": str(amount), "limits": out["limits"]}


def apply(s: Session, r: Redemption, amount: Decimal | None, *, decided_by: str | None,
          comment: str | None) -> dict[str, Any]:
    """Apply ``amount`` (None: all that is held; less: the reviewer reduced it) to the bill and the
    account, and give back the rest of the hold."""
    if r.status == "applied":
        return {"applied": str(r.applied)}
    if r.status != "held":
        raise Refusal("NOT_HELD", f"redemption {r.id} is {r.status}, holds nothing")
    voucher, campaign, bill = _load(s, r, lock=True)
    value = r.held if amount is None else amount
    if not ZERO < value <= r.held:
        raise Refusal("INVALID_AMOUNT", f"the amount must be above 0 and at most the {r.held} held, not {value}")
    if voucher.status != "active" or clock.now() >= voucher.expires_at:
        raise Refusal("VOUCHER_EXPIRED", f"voucher {voucher.number} expired before the credit was applied")
    voucher.held -= r.held
    voucher.remaining -= value
    if voucher.remaining == 0:
        voucher.status = "used"
    entry = ledger.post(s, r.tenant_id, "voucher_credit", value, actor=decided_by,
                        reason=f"voucher {voucher.number} on bill {bill.period}", reference=("redemption", r.id))
    r.applied, r.held, r.status = value, ZERO, "applied"
    r.decided_by, r.comment, r.decided_at = decided_by, comment, clock.now()
    _audit(s, r, "apply", decided_by, amount=value, ledger_entry=entry.id, comment=comment,
           campaign=campaign.code)
    return {"applied": str(value), "ledger_entry_id": entry.id, "voucher_remaining": str(voucher.remaining)}


def release(s: Session, r: Redemption, *, status: str, decided_by: str | None, comment: str | None,
            reason: str | None = None) -> dict[str, Any]:
    """End a redemption without credit (``rejected`` by the reviewer, ``refused`` by a rule) and give
    back what it holds of the voucher."""
    if r.status in ("applied", "rejected", "refused"):
        return {"status": r.status, "released": "0.00"}
    released = r.held
    if released:
        q = select(Voucher).where(Voucher.id == r.voucher_id, Voucher.tenant_id == r.tenant_id)
        lock_bill(s, r.bill_id)
        voucher = s.scalars(for_update(q).execution_options(populate_existing=True)).one()
        voucher.held -= released
    r.held, r.status = ZERO, status
    r.decided_by, r.comment, r.reason, r.decided_at = decided_by, comment, (reason or "")[:500] or None, clock.now()
    _audit(s, r, "reject" if status == "rejected" else "refuse", decided_by, released=released, comment=comment,
           reason=reason)
    return {"status": status, "released": str(released)}
