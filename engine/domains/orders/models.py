"""Orders: one per approved application, with the approved items (``ItemLine``: copied, so a
later catalog change never alters what was ordered)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.domains.catalog.models import ItemLine
from engine.models.base import Base, IdColumn, new_id, utcnow


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
