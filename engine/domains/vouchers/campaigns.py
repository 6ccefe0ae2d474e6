"""Yearly budgets and campaigns (operators), and the campaigns a tenant may see and claim.

A campaign commits ``face_value * total_count`` of its year's budget when it is created, under the
budget row's lock, so the campaigns of a year never promise more than its budget. Closing a
campaign gives back what was never claimed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.domains.vouchers import fields
from engine.domains.vouchers.locks import for_update
from engine.domains.vouchers.models import FREQUENCIES, Campaign, VoucherBudget
from engine.errors import Conflict, Forbidden, NotFound
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.core import Engine


def staff_only(principal: Principal) -> None:
    if not principal.is_platform:
        raise Forbidden("only platform staff manage voucher budgets and campaigns")


# -- budgets ----------------------------------------------------------------------------------------

def describe_budget(b: VoucherBudget) -> dict[str, Any]:
    return {"id": b.id, "year": b.year, "amount": b.amount, "committed": b.committed,
            "remaining": b.amount - b.committed, "note": b.note, "created_by": b.created_by,
            "created_at": b.created_at, "updated_at": b.updated_at}


def set_budget(engine: Engine, principal: Principal, *, year: Any, amount: Any, note: str | None = None,
               ip: str | None = None) -> dict[str, Any]:
    """Create or change the year's budget; it cannot go below what its campaigns committed (409)."""
    staff_only(principal)
    year = fields.integer(year, "year", low=2000, high=2100)
    value = fields.money(amount, "amount")
    note = fields.text(note, "note", 500)
    try:
        with engine.db.write() as s:
            budget = s.scalars(for_update(select(VoucherBudget).where(VoucherBudget.year == year))).first()
            if budget is None:
                budget = VoucherBudget(year=year, amount=value, committed=0, note=note, created_by=principal.username)
                s.add(budget)
            elif value < budget.committed:
                raise Conflict(f"the {year} campaigns committed {budget.committed}: the budget cannot be less",
                               errors=[{"field": "amount", "message": f"at least {budget.committed}"}])
            before = None if budget.id is None else str(budget.amount)
            budget.amount, budget.note, budget.updated_at = value, note or budget.note, clock.now()
            s.flush()
            audit.record(s, action="voucher.budget", actor=principal.username, tenant_id=None,
                         target_type="voucher_budget", target_id=budget.id,
                         detail={"year": year, "from": before, "to": str(value)}, ip=ip)
            return describe_budget(budget)
    except IntegrityError as exc:
        raise Conflict(f"the {year} budget was set at the same time: try again") from exc


def list_budgets(engine: Engine, principal: Principal) -> list[dict[str, Any]]:
    staff_only(principal)
    with engine.db.read() as s:
        return [describe_budget(b) for b in s.scalars(select(VoucherBudget).order_by(VoucherBudget.year))]


# -- campaigns --------------------------------------------------------------------------------------

def describe_campaign(c: Campaign, *, staff: bool = True) -> dict[str, Any]:
    out = {"id": c.id, "year": c.year, "code": c.code, "name": c.name, "description": c.description,
           "face_value": c.face_value, "total_count": c.total_count, "claimed_count": c.claimed_count,
           "left": c.total_count - c.claimed_count, "per_tenant_limit": c.per_tenant_limit,
           "claim_starts_at": c.claim_starts_at, "claim_ends_at": c.claim_ends_at,
           "validity_days": c.validity_days, "redemption_ratio": c.redemption_ratio, "frequency": c.frequency,
           "eligible": list(c.eligible or []), "status": c.status, "created_at": c.created_at}
    if staff:
        out.update(tenant_ids=c.tenant_ids, created_by=c.created_by)
    return out


def _tenants(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(t, str) and 0 < len(t) <= 36 for t in value):
        raise fields.bad("tenant_ids", "null (every tenant) or a non-empty list of tenant ids")
    return sorted(set(value))


def _eligible(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 200 or not all(
            isinstance(v, str) and 0 < len(v) <= 100 for v in value):
        raise fields.bad("eligible", "a list of product or component codes (empty: every product)")
    return sorted(set(value))


def create_campaign(engine: Engine, principal: Principal, *, year: Any, code: Any, name: Any, face_value: Any,
                    total_count: Any, per_tenant_limit: Any, claim_starts_at: Any, claim_ends_at: Any,
                    validity_days: Any, redemption_ratio: Any, frequency: Any = "monthly",
                    eligible: Any = None, tenant_ids: Any = None, description: Any = None,
                    ip: str | None = None) -> dict[str, Any]:
    """A campaign, its money committed against the year's budget (409 when the budget's remainder
    is short)."""
    staff_only(principal)
    year = fields.integer(year, "year", low=2000, high=2100)
    code = fields.text(code, "code", 64, required=True)
    name = fields.text(name, "name", 200, required=True)
    face = fields.money(face_value, "face_value", positive=True)
    count = fields.integer(total_count, "total_count")
    per_tenant = fields.integer(per_tenant_limit, "per_tenant_limit")
    starts, ends = fields.when(claim_starts_at, "claim_starts_at"), fields.when(claim_ends_at, "claim_ends_at")
    if ends <= starts:
        raise fields.bad("claim_ends_at", "after claim_starts_at")
    validity = fields.integer(validity_days, "validity_days", high=3650)
    ratio = fields.ratio(redemption_ratio, "redemption_ratio")
    if frequency not in FREQUENCIES:
        raise fields.bad("frequency", f"one of {', '.join(FREQUENCIES)}")
    cost = face * count
    try:
        with engine.db.write() as s:
            budget = s.scalars(for_update(select(VoucherBudget).where(VoucherBudget.year == year))).first()
            if budget is None:
                raise fields.bad("year", f"no budget for {year}: set one first")
            if budget.committed + cost > budget.amount:
                left = budget.amount - budget.committed
                raise Conflict(f"the campaign needs {cost} but the {year} budget has {left} left",
                               errors=[{"field": "total_count", "remaining": str(left),
                                        "message": "face_value x total_count exceeds the year's remaining budget"}])
            if s.scalar(select(Campaign.id).where(Campaign.code == code)) is not None:
                raise Conflict(f"a campaign {code!r} exists already", errors=[{"field": "code", "message": "taken"}])
            budget.committed += cost
            budget.updated_at = clock.now()
            campaign = Campaign(budget_id=budget.id, year=year, code=code, name=name,
                                description=fields.text(description, "description", 2000), face_value=face,
                                total_count=count, claimed_count=0, per_tenant_limit=per_tenant,
                                claim_starts_at=starts, claim_ends_at=ends, validity_days=validity,
                                redemption_ratio=ratio, frequency=frequency, eligible=_eligible(eligible),
                                tenant_ids=_tenants(tenant_ids), status="open", created_by=principal.username)
            s.add(campaign)
            s.flush()
            audit.record(s, action="voucher.campaign.create", actor=principal.username, tenant_id=None,
                         target_type="voucher_campaign", target_id=campaign.id,
                         detail={"code": code, "year": year, "face_value": str(face), "count": count,
                                 "committed": str(cost)}, ip=ip)
            return describe_campaign(campaign)
    except IntegrityError as exc:
        raise Conflict(f"a campaign {code!r} exists already", errors=[{"field": "code", "message": "taken"}]) from exc


def close_campaign(engine: Engine, principal: Principal, campaign_id: str, *, ip: str | None = None) -> dict[str, Any]:
    """Stop claims; what was never claimed goes back to the year's budget."""
    staff_only(principal)
    with engine.db.write() as s:
        campaign = s.scalars(for_update(select(Campaign).where(Campaign.id == campaign_id))).first()
        if campaign is None:
            raise NotFound(f"campaign {campaign_id} not found")
        if campaign.status == "closed":
            return describe_campaign(campaign)
        budget = s.scalars(for_update(select(VoucherBudget).where(VoucherBudget.id == campaign.budget_id))).one()
        unclaimed = campaign.face_value * (campaign.total_count - campaign.claimed_count)
        budget.committed -= unclaimed
        campaign.status = "closed"
        audit.record(s, action="voucher.campaign.close", actor=principal.username, tenant_id=None,
                     target_type="voucher_campaign", target_id=campaign.id,
                     detail={"code": campaign.code, "returned": str(unclaimed)}, ip=ip)
        return describe_campaign(campaign)


def visible(s: Session, campaign_id: str, tenant_id: str | None) -> Campaign:
    """The campaign as ``tenant_id`` may see it (staff: None, every campaign); 404 otherwise."""
    campaign = s.get(Campaign, campaign_id)
    if campaign is None or (tenant_id is not None and campaign.tenant_ids is not None
                            and tenant_id not in campaign.tenant_ids):
        raise NotFound(f"campaign {campaign_id} not found")
    return campaign


@dataclass(frozen=True)
class CampaignFilters:
    q: str | None = None  # part of the code or name
    year: int | None = None
    open_now: bool = False  # only campaigns whose claim window is open and that have vouchers left
    frequency: str | None = None
    eligible: str | None = None  # covers this product or component code


def list_campaigns(engine: Engine, principal: Principal, f: CampaignFilters, *, offset: int = 0,
                   limit: int = 20) -> tuple[list[dict[str, Any]], int]:
    """Staff: every campaign. A tenant user: the open campaigns offered to their tenant."""
    with engine.db.read() as s:
        rows = list(s.scalars(select(Campaign).order_by(Campaign.claim_starts_at.desc(), Campaign.code)))
    now = clock.now()
    out = []
    for c in rows:  # JSON list membership is filtered here: the same on SQLite and PostgreSQL
        if not principal.is_platform and (c.status != "open" or (
                c.tenant_ids is not None and principal.tenant_id not in c.tenant_ids)):
            continue
        if f.q and f.q.lower() not in c.code.lower() and f.q.lower() not in c.name.lower():
            continue
        if f.year is not None and c.year != f.year:
            continue
        if f.frequency and c.frequency != f.frequency:
            continue
        if f.eligible and c.eligible and f.eligible not in c.eligible:
            continue
        if f.open_now and not (c.status == "open" and c.claim_starts_at <= now < c.claim_ends_at
                               and c.claimed_count < c.total_count):
            continue
        out.append(describe_campaign(c, staff=principal.is_platform))
    return out[offset:offset + limit], len(out)
