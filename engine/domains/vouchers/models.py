"""Voucher budgets, campaigns, vouchers and redemptions.

A campaign's money is committed against its year's budget when it is created (face value times
count), so campaigns never promise more than the year has. A voucher is one claim of a campaign by
one tenant: its face value, what is left, what running redemptions hold of it, and when it expires.
A redemption is one request to cover part of one closed bill with one voucher; its amounts move
from quoted to held to applied (or back, when it is rejected).

Bills belong to the billing domain: a redemption stores the bill's id and the figures it was quoted
on, without a foreign key (see ``engine.domains.vouchers.bills``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, IdColumn, new_id, utcnow

Money = Numeric(18, 2)
Ratio = Numeric(5, 4)
FREQUENCIES = ("monthly", "quarterly")
VOUCHER_STATUSES = ("active", "used", "expired")
REDEMPTION_STATUSES = ("requested", "held", "applied", "rejected", "refused")


class VoucherBudget(Base):
    """The platform's voucher money for one year; ``committed`` is what its campaigns promise."""

    __tablename__ = "voucher_budgets"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    committed: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    __tablename__ = "voucher_campaigns"
    __table_args__ = (Index("ix_voucher_campaigns_year_window", "year", "claim_starts_at", "claim_ends_at"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    budget_id: Mapped[str] = mapped_column(ForeignKey("voucher_budgets.id"))
    year: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    face_value: Mapped[Decimal] = mapped_column(Money)
    total_count: Mapped[int] = mapped_column(Integer)
    claimed_count: Mapped[int] = mapped_column(Integer, default=0)
    per_tenant_limit: Mapped[int] = mapped_column(Integer)
    claim_starts_at: Mapped[datetime]
    claim_ends_at: Mapped[datetime]  # claims are open while starts_at <= now < ends_at
    validity_days: Mapped[int] = mapped_column(Integer)  # a voucher expires this long after its claim
    redemption_ratio: Mapped[Decimal] = mapped_column(Ratio)  # the share of a bill this campaign may cover
    frequency: Mapped[str] = mapped_column(String(16))  # one redemption per voucher per month or quarter
    eligible: Mapped[list[Any]] = mapped_column(default=list)  # product or component codes; empty: any
    tenant_ids: Mapped[list[Any] | None] = mapped_column(nullable=True)  # who may claim; null: every tenant
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, closed
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Voucher(Base):
    __tablename__ = "vouchers"
    __table_args__ = (
        UniqueConstraint("campaign_id", "tenant_id", "request_key", name="uq_vouchers_claim_request"),
        Index("ix_vouchers_tenant_status", "tenant_id", "status", "expires_at"),
        Index("ix_vouchers_campaign_tenant", "campaign_id", "tenant_id"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("voucher_campaigns.id"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    request_key: Mapped[str] = mapped_column(String(100))  # the claim's idempotency key
    face_value: Mapped[Decimal] = mapped_column(Money)
    remaining: Mapped[Decimal] = mapped_column(Money)  # face value less what was applied
    held: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))  # part of remaining held by redemptions
    status: Mapped[str] = mapped_column(String(16), default="active")
    claimed_by: Mapped[str] = mapped_column(String(100))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # usable while now < expires_at
    expired_at: Mapped[datetime | None]
    expired_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))


class Redemption(Base):
    __tablename__ = "voucher_redemptions"
    __table_args__ = (
        Index("ix_voucher_redemptions_bill", "bill_id", "status"),
        Index("ix_voucher_redemptions_voucher_period", "voucher_id", "period"),
        Index("ix_voucher_redemptions_tenant", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    voucher_id: Mapped[str] = mapped_column(ForeignKey("vouchers.id"))
    campaign_id: Mapped[str] = mapped_column(ForeignKey("voucher_campaigns.id"))
    bill_id: Mapped[str] = mapped_column(String(36))  # billing's bill (no foreign key: see the module doc)
    bill_total: Mapped[Decimal] = mapped_column(Money)
    period: Mapped[str] = mapped_column(String(8))  # 2026-03 (monthly) or 2026-Q1 (quarterly)
    requested: Mapped[Decimal | None] = mapped_column(Money)  # what the tenant asked for (null: the most)
    quoted: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    held: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    applied: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by: Mapped[str] = mapped_column(String(100))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(String(2000))
    reason: Mapped[str | None] = mapped_column(String(500))  # why it was refused
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
