"""Claiming vouchers, a tenant's vouchers, and their expiry.

A claim holds the campaign's row lock while it checks the window, the tenant's limit and the
count, then bumps ``claimed_count`` with a conditional update (``claimed_count < total_count``), so
50 tenants claiming at once never get more vouchers than the campaign has nor one tenant more than
its limit. A claim names a ``request_key``: the same key claims once ((campaign, tenant, key) is
unique), so a retried request gets the voucher it already got.

A voucher is usable while ``now < expires_at``. Its ``voucher_expiry`` process (started after the
claim commits) waits for that moment on a BPMN timer and then records the expiry: status
``expired`` and the value that lapsed (``expire``). Reads never rely on the timer having fired.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.domains.vouchers import fields
from engine.domains.vouchers.campaigns import visible
from engine.domains.vouchers.locks import Locking, for_update
from engine.domains.vouchers.models import VOUCHER_STATUSES, Campaign, Voucher
from engine.errors import Conflict, Forbidden, NotFound
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.core import Engine

log = logging.getLogger(__name__)
EXPIRY_PROCESS = "voucher_expiry"


def describe(v: Voucher, campaign: Campaign | None = None) -> dict[str, Any]:
    now = clock.now()
    status = "expired" if v.status == "active" and now >= v.expires_at else v.status
    out = {"id": v.id, "number": v.number, "campaign_id": v.campaign_id, "tenant_id": v.tenant_id,
           "face_value": v.face_value, "remaining": v.remaining, "held": v.held,
           "available": v.remaining - v.held if status == "active" else Decimal("0.00"), "status": status,
           "claimed_by": v.claimed_by, "claimed_at": v.claimed_at, "expires_at": v.expires_at,
           "expired_at": v.expired_at, "expired_amount": v.expired_amount}
    if campaign is not None:
        out.update(campaign_code=campaign.code, campaign_name=campaign.name,
                   redemption_ratio=campaign.redemption_ratio, frequency=campaign.frequency)
    return out


def _tenant_user(principal: Principal) -> str:
    if principal.tenant_id is None:
        raise Forbidden("vouchers are claimed by tenant users")
    return principal.tenant_id


def claim(engine: Engine, principal: Principal, campaign_id: str, *, request_key: str | None = None,
          ip: str | None = None) -> tuple[dict[str, Any], bool]:
    """Claim one voucher of the campaign for the caller's tenant; (voucher, created). Without a
    ``request_key`` every call is a new claim; with one, a repeat returns the same voucher."""
    tenant_id = _tenant_user(principal)
    key = fields.text(request_key, "request_id", 100) or f"auto:{uuid.uuid4()}"
    try:
        voucher, campaign, created = _claim(engine, principal, tenant_id, campaign_id, key, ip)
    except IntegrityError:  # a concurrent claim with the same key won: it is the answer
        with engine.db.read() as s:
            found = s.scalars(select(Voucher).where(Voucher.campaign_id == campaign_id, Voucher.tenant_id == tenant_id,
                                                    Voucher.request_key == key)).first()
            if found is None:
                raise
            return describe(found, s.get(Campaign, campaign_id)), False
    if created:
        schedule_expiry(engine, voucher)
    return describe(voucher, campaign), created


def _claim(engine: Engine, principal: Principal, tenant_id: str, campaign_id: str, key: str,
           ip: str | None) -> tuple[Voucher, Campaign, bool]:
    with engine.db.write() as s:
        visible(s, campaign_id, tenant_id)
        campaign = s.scalars(for_update(select(Campaign).where(Campaign.id == campaign_id))
                             .execution_options(populate_existing=True)).one()
        found = s.scalars(select(Voucher).where(Voucher.campaign_id == campaign_id, Voucher.tenant_id == tenant_id,
                                                Voucher.request_key == key)).first()
        if found is not None:
            return found, campaign, False
        now = clock.now()
        if campaign.status != "open" or not campaign.claim_starts_at <= now < campaign.claim_ends_at:
            raise Conflict(f"campaign {campaign.code} is not open for claims now "
                           f"({campaign.claim_starts_at.isoformat()} to {campaign.claim_ends_at.isoformat()})",
                           errors=[{"field": "campaign_id", "message": "outside the claim window"}])
        mine = s.scalar(select(func.count()).select_from(Voucher).where(Voucher.campaign_id == campaign_id,
                                                                        Voucher.tenant_id == tenant_id)) or 0
        if mine >= campaign.per_tenant_limit:
            raise Conflict(f"your tenant has claimed {mine} of campaign {campaign.code}, its limit",
                           errors=[{"field": "campaign_id", "message": "per-tenant limit reached"}])
        if campaign.claimed_count >= campaign.total_count:
            raise Conflict(f"campaign {campaign.code} has no vouchers left",
                           errors=[{"field": "campaign_id", "message": "all vouchers claimed"}])
        if Locking.enabled:  # the row is locked; the condition is a second guard, not the only one
            bumped = s.execute(update(Campaign).where(Campaign.id == campaign_id,
                                                      Campaign.claimed_count < Campaign.total_count)
                               .values(claimed_count=Campaign.claimed_count + 1)).rowcount
            if bumped != 1:
                raise Conflict(f"campaign {campaign.code} has no vouchers left")
        else:  # test-only: read, check, write back what was read plus one
            s.execute(update(Campaign).where(Campaign.id == campaign_id)
                      .values(claimed_count=campaign.claimed_count + 1))
        voucher = Voucher(number=f"VC{campaign.year}-{uuid.uuid4().hex[:12].upper()}", campaign_id=campaign_id,
                          tenant_id=tenant_id, request_key=key, face_value=campaign.face_value,
                          remaining=campaign.face_value, held=Decimal("0"), status="active",
                          claimed_by=principal.username, claimed_at=now,
                          expires_at=now + timedelta(days=campaign.validity_days), expired_amount=Decimal("0"))
        s.add(voucher)
        s.flush()
        s.refresh(campaign)
        audit.record(s, action="voucher.claim", actor=principal.username, tenant_id=tenant_id, target_type="voucher",
                     target_id=voucher.id, detail={"campaign": campaign.code, "number": voucher.number,
                                                   "face_value": str(voucher.face_value),
                                                   "expires_at": voucher.expires_at.isoformat()}, ip=ip)
        return voucher, campaign, True


def schedule_expiry(engine: Engine, voucher: Voucher) -> None:
    """Start the voucher's ``voucher_expiry`` process (its timer fires at ``expires_at``). Should the
    start fail the voucher still lapses at ``expires_at`` (every read checks the time); the failure
    is logged and audited so an operator can see the expiry was not scheduled."""
    try:
        engine.runtime.start(EXPIRY_PROCESS, tenant_id=voucher.tenant_id, business_key=voucher.id,
                             variables={"voucher_id": voucher.id, "expires_at": voucher.expires_at.isoformat()})
    except Exception as exc:  # noqa: BLE001 - the claim has committed; never hide it behind this
        log.warning("voucher %s: expiry process not started: %s", voucher.number, exc)
        with engine.db.write() as s:
            audit.record(s, action="voucher.expiry_unscheduled", actor=None, tenant_id=voucher.tenant_id,
                         target_type="voucher", target_id=voucher.id, detail={"error": str(exc)[:500]})


def expire(s: Session, tenant_id: str, voucher_id: str, *, actor: str | None = None) -> dict[str, Any]:
    """Record a voucher's expiry once its time has come: status ``expired``, what lapsed unused.
    Not yet due: nothing changes (``expired`` false). Held amounts lapse too: a running redemption
    finds the voucher expired and is released."""
    voucher = s.scalars(for_update(select(Voucher).where(Voucher.id == voucher_id, Voucher.tenant_id == tenant_id))
                        .execution_options(populate_existing=True)).first()
    if voucher is None:
        raise NotFound(f"voucher {voucher_id} not found")
    now = clock.now()
    if voucher.status != "active" or now < voucher.expires_at:
        return {"voucher_id": voucher.id, "expired": False, "status": voucher.status}
    voucher.status, voucher.expired_at, voucher.expired_amount = "expired", now, voucher.remaining
    audit.record(s, action="voucher.expire", actor=actor, tenant_id=tenant_id, target_type="voucher",
                 target_id=voucher.id, detail={"number": voucher.number, "lapsed": str(voucher.remaining),
                                               "expires_at": voucher.expires_at.isoformat()})
    return {"voucher_id": voucher.id, "expired": True, "lapsed": str(voucher.remaining)}


def list_vouchers(engine: Engine, principal: Principal, *, status: str | None = None, campaign_id: str | None = None,
                  tenant_id: str | None = None, offset: int = 0, limit: int = 20) -> tuple[list[dict[str, Any]], int]:
    """The caller's tenant's vouchers (staff: every tenant's, or ``tenant_id``'s), newest first;
    ``status`` as shown (a voucher past ``expires_at`` shows expired before its timer fired)."""
    if status is not None and status not in VOUCHER_STATUSES:
        raise fields.bad("status", f"one of {', '.join(VOUCHER_STATUSES)}")
    q = select(Voucher, Campaign).join(Campaign, Campaign.id == Voucher.campaign_id)
    if not principal.is_platform:
        q = q.where(Voucher.tenant_id == principal.tenant_id)
    elif tenant_id:
        q = q.where(Voucher.tenant_id == tenant_id)
    if campaign_id:
        q = q.where(Voucher.campaign_id == campaign_id)
    now = clock.now()
    if status == "active":
        q = q.where(Voucher.status == "active", Voucher.expires_at > now)
    elif status == "expired":
        q = q.where((Voucher.status == "expired") | ((Voucher.status == "active") & (Voucher.expires_at <= now)))
    elif status:
        q = q.where(Voucher.status == status)
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.execute(q.order_by(Voucher.claimed_at.desc(), Voucher.id).offset(offset).limit(limit)).all()
        return [describe(v, c) for v, c in rows], int(total)


def get_voucher(engine: Engine, principal: Principal, voucher_id: str) -> dict[str, Any]:
    with engine.db.read() as s:
        v = s.get(Voucher, voucher_id)
        if v is None or (not principal.is_platform and v.tenant_id != principal.tenant_id):
            raise NotFound(f"voucher {voucher_id} not found")
        return describe(v, s.get(Campaign, v.campaign_id))
