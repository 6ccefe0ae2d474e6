"""Tenancy: tenants, their organisation trees, business systems, users, roles and quotas.

Every tenant-owned row carries ``tenant_id`` and every query filters on it. Platform staff
(platform_admin, platform_operator, process_designer) are users with ``tenant_id`` NULL.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, UniqueConstraint, text, true
from sqlalchemy.orm import Mapped, mapped_column

from connectors import vector
from engine.models.base import Base, IdColumn, new_id, utcnow

QUOTA_DIMENSIONS = vector.NAMES  # the base dimensions; per-model GPU rows ("gpus:H100") come and go


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Organization(Base):
    """A node of a tenant's organisation tree. ``path`` ("/root-id/child-id/") makes
    "my organisation and below" one indexed prefix match."""

    __tablename__ = "organizations"
    __table_args__ = (UniqueConstraint("tenant_id", "code"), Index("ix_organizations_tenant_path", "tenant_id", "path"))

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BusinessSystem(Base):
    __tablename__ = "business_systems"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BusinessSystemMember(Base):
    __tablename__ = "business_system_members"

    business_system_id: Mapped[str] = mapped_column(ForeignKey("business_systems.id", ondelete="CASCADE"),
                                                    primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_tenant_org", "tenant_id", "organization_id"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"))
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    enabled: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)  # bumped to revoke every older token
    active_role: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Role(Base):
    """Built-in roles have ``tenant_id`` NULL and cannot be deleted; custom roles belong to a tenant."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    builtin: Mapped[bool] = mapped_column(default=False)
    permissions: Mapped[list[Any]] = mapped_column(default=list)
    data_scope: Mapped[str] = mapped_column(String(24), default="mine")  # all | org_and_below | my_systems | mine


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[str] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True)


class Quota(Base):
    """One dimension of a tenant's (organization_id NULL) or an organisation's quota.

    ``dimension`` is one of ``connectors.vector``'s, or ``gpus:<model>``: the GPUs of one accelerator
    model, booked beside the ``gpus`` total. Such a row caps that model when ``capped``; uncapped,
    it only counts (``total`` unused) and the ``gpus`` total alone limits the model.

    ``used`` and ``in_process`` count the whole subtree (engine.tenancy.quotas books a reservation at
    the organisation, every ancestor and the tenant). A unique constraint treats NULLs as distinct,
    so the tenant-level row gets a partial unique index of its own.
    """

    __tablename__ = "quotas"
    __table_args__ = (
        UniqueConstraint("tenant_id", "organization_id", "dimension"),
        Index("uq_quotas_tenant_level", "tenant_id", "dimension", unique=True,
              postgresql_where=text("organization_id IS NULL"), sqlite_where=text("organization_id IS NULL")),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    dimension: Mapped[str] = mapped_column(String(120))  # a base dimension or "gpus:<model>"
    total: Mapped[Decimal] = mapped_column(Numeric(18, 3), default=Decimal(0))
    capped: Mapped[bool] = mapped_column(default=True, server_default=true())  # False: counts only, no cap
    used: Mapped[Decimal] = mapped_column(Numeric(18, 3), default=Decimal(0))
    in_process: Mapped[Decimal] = mapped_column(Numeric(18, 3), default=Decimal(0))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CasbinRule(Base):
    """A Casbin policy line (sqlalchemy-adapter's ``db_class``): ``p`` role permissions, ``g`` user roles.

    Written only by engine.authz inside the transaction that changes the Role/UserRole rows it
    derives from; the adapter only loads it.
    """

    __tablename__ = "casbin_rule"
    __table_args__ = (Index("ix_casbin_rule_ptype_v0", "ptype", "v0"), Index("ix_casbin_rule_ptype_v1", "ptype", "v1"))

    id: Mapped[int] = mapped_column(primary_key=True)
    ptype: Mapped[str] = mapped_column(String(8))
    v0: Mapped[str | None] = mapped_column(String(255))
    v1: Mapped[str | None] = mapped_column(String(255))
    v2: Mapped[str | None] = mapped_column(String(255))
    v3: Mapped[str | None] = mapped_column(String(255))
    v4: Mapped[str | None] = mapped_column(String(255))
    v5: Mapped[str | None] = mapped_column(String(255))

    def __str__(self) -> str:  # the adapter parses this text as one policy line
        values = (self.v0, self.v1, self.v2, self.v3, self.v4, self.v5)
        return ", ".join([self.ptype, *(v for v in values if v is not None)])
