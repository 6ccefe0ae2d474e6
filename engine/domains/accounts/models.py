"""A tenant's account and its ledger.

The balance is the sum of the ledger. ``Account.balance`` keeps that sum so that a posting can
check the credit limit under one row lock; every ledger row records the balance after it
(``balance_after``), the posting that writes it moves ``Account.balance`` in the same statement
batch, and ``ledger.check`` proves the two agree (the tests do after every random sequence).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, IdColumn, new_id, utcnow

Money = Numeric(18, 2)
KINDS = ("topup", "charge", "refund", "voucher_credit", "adjustment")


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    credit_limit: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))  # may go down to -credit_limit
    entries: Mapped[int] = mapped_column(Integer, default=0)  # ledger rows so far: the next row's seq - 1
    opened_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(Base):
    """One change of one account: who, when, why, by how much, and the balance after it.

    (account, kind, reference) is unique when a reference is given, so a bill is charged once and
    a redemption credited once however often the caller retries."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("account_id", "seq", name="uq_ledger_entries_seq"),
        UniqueConstraint("account_id", "kind", "reference_type", "reference_id", name="uq_ledger_entries_reference"),
        Index("ix_ledger_entries_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    amount: Mapped[Decimal] = mapped_column(Money)  # signed: + credits the account, - debits it
    balance_after: Mapped[Decimal] = mapped_column(Money)
    reference_type: Mapped[str | None] = mapped_column(String(32))
    reference_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500), default="")
    actor: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
