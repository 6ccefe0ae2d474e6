"""State the HTTP layer keeps in the database so every worker process shares it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, IdColumn, new_id, utcnow


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


class AuthSession(Base):
    """One login and every token descended from it (its refreshes and role switches carry its id as
    the ``sid`` claim): revoking the row ends them all at once (logout, refresh-token reuse)."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)  # its newest refresh token's expiry; purged after
    revoked_at: Mapped[datetime | None]


class LoginFailure(Base):
    """A failed login, kept for the sliding window of ``engine.identity.throttle``."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_address_at", "address", "at"),
                      Index("ix_login_failures_username_at", "username", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    address: Mapped[str] = mapped_column(String(64))  # the client address, as the audit log records it
    username: Mapped[str] = mapped_column(String(100))  # as typed, known or not
    locking: Mapped[bool] = mapped_column(default=False)  # counts towards the account's lockout


class PolicyVersion(Base):
    """A counter bumped on every role/permission change; workers reload Casbin when it moves."""

    __tablename__ = "policy_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
