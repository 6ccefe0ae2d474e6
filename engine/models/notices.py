"""Site messages: the notices in each user's in-site mailbox (``engine.site_messages``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, IdColumn, new_id, utcnow


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
