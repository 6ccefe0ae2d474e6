"""Append-only audit log, hash-chained: each row carries the hash of the row before it.

``scheme`` says how a row's hash was made: ``hmac:<key id>`` (HMAC-SHA256 with the audit key,
kept outside the database) or ``sha256`` (plain SHA-256: rows written before keyed hashing).
``AuditCheckpoint`` rows anchor each chain's head outside the audited table (engine.audit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_id", "tenant_id", "id"), Index("ix_audit_log_at", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    tenant_id: Mapped[str | None] = mapped_column(String(36))
    actor: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))  # e.g. login.success, role.update, task.complete
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    scheme: Mapped[str] = mapped_column(String(32), server_default="sha256")  # rows from before 0003: sha256


class AuditCheckpoint(Base):
    """A signed note of one chain's head: its last row, that row's hash and how many rows it had.

    Checkpoints form a chain of their own (``prev_mac``, ids without gaps), so removing or editing
    one is detected too; each is also appended to a file under the var directory (engine.audit).
    """

    __tablename__ = "audit_checkpoints"
    __table_args__ = (Index("ix_audit_checkpoints_tenant_id", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # 1, 2, 3 … (no gaps)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    tenant_id: Mapped[str | None] = mapped_column(String(36))  # the chain (None: the platform's)
    last_row_id: Mapped[int]
    last_hash: Mapped[str] = mapped_column(String(64))
    row_count: Mapped[int]
    key_id: Mapped[str] = mapped_column(String(16))
    prev_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))
