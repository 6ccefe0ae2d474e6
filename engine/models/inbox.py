"""The task inbox: one row per READY user task, and who may work it.

Candidates live in their own table (one row per role or user) so "my tasks" is an indexed
lookup even with 100,000 open tasks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, IdColumn, utcnow


class HumanTask(Base):
    __tablename__ = "human_tasks"
    __table_args__ = (
        Index("ix_human_tasks_tenant_assignee", "tenant_id", "assignee", "created_at"),
        Index("ix_human_tasks_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)  # the SpiffWorkflow task guid
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    process_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200))
    task_spec: Mapped[str] = mapped_column(String(255))
    task_name: Mapped[str | None] = mapped_column(String(255))
    lane: Mapped[str | None] = mapped_column(String(255))
    form_schema: Mapped[str | None] = mapped_column(String(255))
    form_ui_schema: Mapped[str | None] = mapped_column(String(255))
    assignee: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. the countersign item


class HumanTaskCandidate(Base):
    __tablename__ = "human_task_candidates"
    __table_args__ = (Index("ix_human_task_candidates_lookup", "tenant_id", "kind", "value", "task_id"),
                      Index("ix_human_task_candidates_value", "kind", "value", "task_id"))  # platform staff

    task_id: Mapped[str] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # role | user
    value: Mapped[str] = mapped_column(String(100), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
