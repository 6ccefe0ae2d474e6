"""Applications, their items and attachments.

An application's items copy the spec's dimensions at the time they were written (``ItemLine``),
so a later catalog change never alters what was applied for, reserved or ordered.
An application's process instances are the ones whose ``business_key`` is its id (a withdrawn
and resubmitted application has several); its status is what the process last recorded
(``engine.domains.applications.status``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.domains.catalog.models import ItemLine
from engine.models.base import Base, IdColumn, new_id, utcnow


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
    # how many attachments it has, kept by adding and removing them (under the application's lock):
    # the detail reads the attachments only when there are some
    attachment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_comment: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]


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
