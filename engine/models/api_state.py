"""State the HTTP layer keeps in the database so every worker process shares it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, utcnow


class IdempotencyRecord(Base):
    """The first response to a create request with an ``Idempotency-Key``; repeats get it back."""

    __tablename__ = "idempotency_records"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    route: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64), default="")  # sha256 of what the request asked for
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class RevokedToken(Base):
    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime]


class PolicyVersion(Base):
    """A counter bumped on every role/permission change; workers reload Casbin when it moves."""

    __tablename__ = "policy_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
