"""Urges: an initiator nudging the people who hold its open tasks (the inbox's "urged" tab)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, utcnow


class TaskUrge(Base):
    __tablename__ = "task_urges"
    __table_args__ = (Index("ix_task_urges_instance", "instance_id", "urged_at"),)

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the human task's guid
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    urged_by: Mapped[str] = mapped_column(String(100))
    urged_at: Mapped[datetime] = mapped_column(default=utcnow)
