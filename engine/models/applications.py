"""Cart items, applications (items, attachments), orders (items) and site messages.

An application's items and an order's items copy the spec's dimensions at the time they were
written, so a later catalog change never alters what was applied for, reserved or ordered.
An application's process instances are the ones whose ``business_key`` is its id (a withdrawn
and resubmitted application has several); its status is what the process last recorded.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, IdColumn, new_id, utcnow

# draft -> pending (submitted, in approval) -> ordered
#          pending -> returned (rejected: the applicant edits and resubmits, or cancels) -> pending | cancelled
#          pending -> draft (withdrawn before the first approval)
APPLICATION_STATUSES = ("draft", "pending", "returned", "approved", "ordered", "cancelled")
# the quota an application holds: none, in process (reserved), used (committed with its order), released
QUOTA_STATES = ("none", "reserved", "committed", "released")


class CartItem(Base):
    __tablename__ = "cart_items"
    __table_args__ = (UniqueConstraint("user_id", "spec_id"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    spec_id: Mapped[str] = mapped_column(ForeignKey("product_specs.id"))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_applications_tenant_status", "tenant_id", "status", "created_at"),
        Index("ix_applications_tenant_applicant", "tenant_id", "applicant_id", "created_at"),
        Index("ix_applications_tenant_org", "tenant_id", "organization_id"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    number: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200), default="")
    purpose: Mapped[str] = mapped_column(String(2000), default="")
    applicant_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    applicant: Mapped[str] = mapped_column(String(100))  # user name: what BPMN lanes and messages use
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    business_system_id: Mapped[str] = mapped_column(ForeignKey("business_systems.id"))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    quota_state: Mapped[str] = mapped_column(String(16), default="none")
    reserved: Mapped[dict[str, Any]] = mapped_column(default=dict)  # dimension -> amount (text) held now
    approvals: Mapped[int] = mapped_column(Integer, default=0)  # approvals given since the last submit
    submissions: Mapped[int] = mapped_column(Integer, default=0)
    last_comment: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]


class ItemLine:
    """What an application line and an order line both record: the product and spec as chosen,
    and the resource dimensions they book (copied, so later catalog edits change nothing)."""

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    spec_id: Mapped[str] = mapped_column(ForeignKey("product_specs.id"))
    product_name: Mapped[str] = mapped_column(String(200))
    spec_name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    vcpu: Mapped[int] = mapped_column(Integer, default=0)
    memory_gib: Mapped[Decimal] = mapped_column(Numeric(18, 3), default=Decimal(0))
    disk_gib: Mapped[Decimal] = mapped_column(Numeric(18, 3), default=Decimal(0))
    gpu_model: Mapped[str | None] = mapped_column(String(100))
    gpu_count: Mapped[int] = mapped_column(Integer, default=0)
    instances: Mapped[int] = mapped_column(Integer, default=1)
    eips: Mapped[int] = mapped_column(Integer, default=0)


class ApplicationItem(ItemLine, Base):
    __tablename__ = "application_items"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)


class ApplicationAttachment(Base):
    """A file uploaded with an application; the bytes live under ``Settings.var_dir``."""

    __tablename__ = "application_attachments"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(200), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(500))  # path relative to the attachments folder
    uploaded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("tenant_id", "number"), Index("ix_orders_tenant_created", "tenant_id",
                                                                      "created_at"))

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    number: Mapped[str] = mapped_column(String(32))
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), unique=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    business_system_id: Mapped[str] = mapped_column(ForeignKey("business_systems.id"))
    applicant: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="created")  # fulfilment comes later
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderItem(ItemLine, Base):
    __tablename__ = "order_items"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)


class SiteMessage(Base):
    """A notice in one user's in-site mailbox. Platform staff have ``tenant_id`` NULL."""

    __tablename__ = "site_messages"
    __table_args__ = (Index("ix_site_messages_user_read", "user_id", "read_at", "created_at"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # task_assigned | approved | rejected | urged | escalated | ...
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. {"application_id": ..., "task_id": ...}
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
