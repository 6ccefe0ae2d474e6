"""The resources domain's tables: cloud accounts, their probe alerts, resource pools with their
dimensions, and the resources found in or created through the accounts.

An account is owned by the platform (``tenant_id`` NULL) or by one tenant (its own cloud). Its
credentials are stored only as ciphertext (``engine.domains.resources.secrets``). Pools belong to
an account and one capacity scope of it (``connectors.base.Capacity.scope``); a static pool has no
account and is typed by hand. Each pool has one row per dimension in ``connectors.vector`` terms
(``vcpu``, ``memory_gib``, ``disk_gib``, ``gpus``, ``gpus:<model>``): total / allocated / used
synchronised from the connector, unit cost per hour and (per accelerator model) a performance
score set by staff. A resource is keyed by (account, provider id); it may be assigned to a tenant
and a business system, and counts in a pool when one covers its scope.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connectors.vector import ResourceColumns
from engine.models.base import Base, IdColumn, new_id, utcnow

PLATFORM_OWNER = "platform"  # owner_key of platform accounts (a tenant's account: its tenant id)


class CloudAccount(Base):
    __tablename__ = "cloud_accounts"
    __table_args__ = (UniqueConstraint("owner_key", "name"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    owner_key: Mapped[str] = mapped_column(String(36))  # tenant id or "platform": names unique per owner
    name: Mapped[str] = mapped_column(String(200))
    provider_type: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str | None] = mapped_column(String(500))
    region: Mapped[str | None] = mapped_column(String(100))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    credentials: Mapped[bytes] = mapped_column(LargeBinary)  # Fernet token of the JSON credentials
    key_id: Mapped[str] = mapped_column(String(16))  # which credentials key sealed them
    enabled: Mapped[bool] = mapped_column(default=True)
    health: Mapped[str] = mapped_column(String(16), default="unknown")  # unknown | up | degraded | down
    health_message: Mapped[str] = mapped_column(String(1000), default="")
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    probe_failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive
    probed_at: Mapped[datetime | None] = mapped_column()
    synced_at: Mapped[datetime | None] = mapped_column()
    sync_message: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountAlert(Base):
    """Incident-style: opened when an account's probe fails, one open per account and kind,
    counting repeats, resolved by the next good probe (or by staff)."""

    __tablename__ = "cloud_account_alerts"
    __table_args__ = (Index("ix_cloud_account_alerts_status", "status", "opened_at"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)  # the account's owner
    kind: Mapped[str] = mapped_column(String(32))  # probe-failed
    error_code: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()


class ResourcePool(Base):
    __tablename__ = "resource_pools"
    __table_args__ = (UniqueConstraint("account_id", "scope"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)  # owner, as its account's
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(200))  # connectors.base.Capacity.scope
    kind: Mapped[str] = mapped_column(String(32), default="region")
    region: Mapped[str | None] = mapped_column(String(100))
    static: Mapped[bool] = mapped_column(default=False)  # typed by hand, never synchronised
    present: Mapped[bool] = mapped_column(default=True)  # False: the last sync no longer saw its scope
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # instance types, provider extras
    synced_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PoolDimension(Base):
    __tablename__ = "resource_pool_dimensions"

    pool_id: Mapped[str] = mapped_column(ForeignKey("resource_pools.id", ondelete="CASCADE"), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(120), primary_key=True)  # vector terms
    total: Mapped[Decimal] = mapped_column(Numeric(18, 3), default=Decimal(0))
    allocated: Mapped[Decimal] = mapped_column(Numeric(18, 3), default=Decimal(0))
    used: Mapped[Decimal] = mapped_column(Numeric(18, 3), default=Decimal(0))
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))  # per unit per hour
    perf_score: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))  # per accelerator model
    accelerator_kind: Mapped[str | None] = mapped_column(String(16))  # gpu | npu (gpus:<model> rows)
    accelerator_use: Mapped[str | None] = mapped_column(String(16))  # training | inference | general


class CloudResource(ResourceColumns, Base):
    """A VM, instance or workload at a provider, as last seen. ``tenant_id`` / ``business_system_id``:
    who it is assigned to (NULL: nobody yet, an orphan)."""

    __tablename__ = "cloud_resources"
    __table_args__ = (UniqueConstraint("account_id", "provider_id"),
                      UniqueConstraint("account_id", "client_token", name="uq_cloud_resources_client_token"))

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True)
    pool_id: Mapped[str | None] = mapped_column(ForeignKey("resource_pools.id", ondelete="SET NULL"), index=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    business_system_id: Mapped[str | None] = mapped_column(ForeignKey("business_systems.id"), index=True)
    provider_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # connectors.base.Status
    client_token: Mapped[str | None] = mapped_column(String(64))
    scope: Mapped[str | None] = mapped_column(String(200))
    flavor: Mapped[str | None] = mapped_column(String(100))
    addresses: Mapped[list[Any]] = mapped_column(default=list)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    origin: Mapped[str] = mapped_column(String(16), default="imported")  # created | imported
    seen_at: Mapped[datetime | None] = mapped_column()  # last time the provider listed it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = ["PLATFORM_OWNER", "AccountAlert", "CloudAccount", "CloudResource", "PoolDimension", "ResourcePool"]
