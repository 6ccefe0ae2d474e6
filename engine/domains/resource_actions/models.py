"""The resource_actions domain's table: one row per request a tenant (or staff) made on a resource.

A request is terminate, start, stop, reboot or resize; it runs as a process (``termination`` or
``resource_action``) whose id is ``instance_id``. Its lifecycle:

    pending --approved--> approved --> running --> done
       |                     |            |
       +--> rejected         +------------+--> failed

A resource has at most one open termination: ``uq_resource_requests_open_termination`` is a
unique index on ``resource_id`` over the rows of kind ``terminate`` not finished yet (a partial
index, on SQLite as on PostgreSQL), so fifty concurrent requests insert one row and the others
find it. ``finished_at`` is set on done, rejected and failed, which takes the row out of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, IdColumn, new_id, utcnow

KINDS = ("terminate", "start", "stop", "reboot", "resize")
STATUSES = ("pending", "approved", "running", "done", "rejected", "failed")
OPEN = ("pending", "approved", "running")
FINISHED = ("done", "rejected", "failed")
_OPEN_TERMINATION = "kind = 'terminate' AND finished_at IS NULL"


class ResourceRequest(Base):
    __tablename__ = "resource_requests"
    __table_args__ = (
        Index("uq_resource_requests_open_termination", "resource_id", unique=True,
              postgresql_where=text(_OPEN_TERMINATION), sqlite_where=text(_OPEN_TERMINATION)),
        Index("ix_resource_requests_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    resource_id: Mapped[str] = mapped_column(ForeignKey("cloud_resources.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[str | None] = mapped_column(String(36), index=True)  # a whole order's termination
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # resize: {"spec": {...}}
    status: Mapped[str] = mapped_column(String(16), default="pending")
    instance_id: Mapped[str | None] = mapped_column(String(36))
    requested_by: Mapped[str | None] = mapped_column(String(100))
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # final line, quota released, error
    quota_released: Mapped[bool] = mapped_column(default=False)  # terminate: released once only
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


__all__ = ["FINISHED", "KINDS", "OPEN", "STATUSES", "ResourceRequest"]
