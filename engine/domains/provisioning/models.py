"""Provisioning units: one row per copy of an order line (order item x quantity).

A unit is what one resource at a provider stands for: where it goes (``pool_id``, ``account_id``;
none for a unit operations deliver by hand), the client token that makes its create idempotent
(unique per tenant), how far it got (``status``), and what it became (``resource_id``). Lifecycle::

    planned -> creating -> running                      (created at the provider)
            \\-> creating -> work_order -> running | failed   (failed: operations take over)
    work_order -> running | failed                       (manual unit: no pool to place it on)
    running -> terminating -> terminated                 (termination, another flow)

A unit of a line bought for a term (``term_months``) gets ``expires_at`` when it starts running;
``subscription_expiry`` (started after that step commits) terminates its resource then.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, IdColumn, new_id, utcnow

STATUSES = ("planned", "creating", "running", "failed", "work_order", "terminating", "terminated")


class ProvisioningUnit(Base):
    __tablename__ = "provisioning_units"
    __table_args__ = (UniqueConstraint("tenant_id", "client_token"),
                      UniqueConstraint("order_item_id", "copy_no"),
                      Index("ix_provisioning_units_order", "order_id", "order_item_id"))

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    order_item_id: Mapped[str] = mapped_column(ForeignKey("order_items.id", ondelete="CASCADE"))
    copy_no: Mapped[int] = mapped_column(Integer)  # 1-based, within the order line
    spec_id: Mapped[str] = mapped_column(String(36))
    pool_id: Mapped[str | None] = mapped_column(ForeignKey("resource_pools.id", ondelete="SET NULL"))
    account_id: Mapped[str | None] = mapped_column(ForeignKey("cloud_accounts.id", ondelete="SET NULL"))
    client_token: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="planned")
    resource_id: Mapped[str | None] = mapped_column(ForeignKey("cloud_resources.id", ondelete="SET NULL"),
                                                    index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    work_order_id: Mapped[str | None] = mapped_column(String(36))
    # a line bought for a term: when it started running plus term_months calendar months; the
    # ``subscription_expiry`` process terminates the resource then. None: no term.
    expires_at: Mapped[datetime | None] = mapped_column()
    # the business key of the unit's ``subscription_expiry`` instance (its termination request's id),
    # set in the transaction that starts it: a unit with ``expires_at`` and no key has none yet
    expiry_key: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = ["STATUSES", "ProvisioningUnit"]
