"""What running instances wait on, kept in tables so any worker can find and wake them.

``jobs``: asynchronous operator calls (the BPMN task stays STARTED until the result is applied).
``due_timers``: timer events, fired once each by whichever worker claims them first.
``message_subscriptions``: waiting message catches, keyed by message name + correlation key,
so a message reaches its instance by index lookup, never by scanning instances.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, IdColumn, new_id, utcnow


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_next", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    task_guid: Mapped[str] = mapped_column(String(36))
    task_spec: Mapped[str] = mapped_column(String(255))
    operator: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | done | failed | stale
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    backoff_base_s: Mapped[int] = mapped_column(Integer, default=2)
    next_attempt_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]
    error: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DueTimer(Base):
    __tablename__ = "due_timers"
    __table_args__ = (Index("ix_due_timers_status_due", "status", "due_at"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    task_guid: Mapped[str] = mapped_column(String(36))
    task_spec: Mapped[str] = mapped_column(String(255))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | fired | cancelled
    fired_at: Mapped[datetime | None]
    fired_by: Mapped[str | None] = mapped_column(String(100))


class MessageSubscription(Base):
    __tablename__ = "message_subscriptions"
    __table_args__ = (Index("ix_message_subscriptions_lookup", "tenant_id", "message_name", "correlation_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    task_guid: Mapped[str] = mapped_column(String(36))
    message_name: Mapped[str] = mapped_column(String(255))
    correlation_key: Mapped[str] = mapped_column(Text)  # canonical JSON of the expected correlation values
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
