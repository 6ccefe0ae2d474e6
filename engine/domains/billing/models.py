"""Billing tables: price plans (versioned) and per-tenant discounts, meters, usage events, rated
resources, the rating state of each tenant's day, monthly bills and their lines.

A bill line is one resource (or one usage group) on one day. ``target_key`` names what the line
prices; a ``rated`` line's ``line_key`` equals it (one per tenant, day and target), an adjustment's
is its own (``adj:<uuid>``) and its ``target_key`` names the line it corrects. Lines keep the id and
version of the plan that priced them, so a new plan version never reprices them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, Numeric, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, IdColumn, new_id, utcnow

Price = Numeric(20, 8)
Amount = Numeric(18, 2)
Quantity = Numeric(24, 6)


class PricePlan(Base):
    """One version of a price plan on a product, a spec or a component; list price (``tenant_id``
    NULL) or one tenant's own price."""

    __tablename__ = "price_plans"
    __table_args__ = (UniqueConstraint("code", "version"),
                      Index("ix_price_plans_target", "target_kind", "target", "status"))

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    target_kind: Mapped[str] = mapped_column(String(16))  # product | spec | component
    target: Mapped[str] = mapped_column(String(120))  # product id, spec id, or component code
    billing_mode: Mapped[str] = mapped_column(String(24))
    unit: Mapped[str] = mapped_column(String(8))
    unit_price: Mapped[Decimal] = mapped_column(Price)
    tier_mode: Mapped[str] = mapped_column(String(12), default="flat")
    tiers: Mapped[list[Any]] = mapped_column(default=list)
    day_rule: Mapped[str | None] = mapped_column(String(32))
    day_price: Mapped[Decimal | None] = mapped_column(Price)
    proration: Mapped[str] = mapped_column(String(8), default="day")  # day | hour
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_to: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | superseded | retired
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PriceDiscount(Base):
    """A tenant's discount, percent or a fixed amount off each line, on one plan code or all."""

    __tablename__ = "price_discounts"
    __table_args__ = (Index("ix_price_discounts_tenant", "tenant_id", "plan_code"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    plan_code: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # percent | fixed
    value: Mapped[Decimal] = mapped_column(Price)
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_to: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Meter(Base):
    """How a component's usage adds up: ``aggregation`` over each ``window`` (hour or day), the
    windows of a day summed, times ``factor`` (e.g. 1/3600: seconds to hours)."""

    __tablename__ = "meters"

    component: Mapped[str] = mapped_column(String(120), primary_key=True)
    aggregation: Mapped[str] = mapped_column(String(16))  # sum | max | count | latest | unique_count
    window: Mapped[str] = mapped_column(String(8), default="day")  # hour | day
    factor: Mapped[Decimal] = mapped_column(Numeric(24, 12), default=Decimal(1))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsageEvent(Base):
    """One usage event as received (CloudEvents ``source`` + ``id``: one row per tenant however
    often it is sent)."""

    __tablename__ = "usage_events"
    __table_args__ = (UniqueConstraint("tenant_id", "source", "event_id"),
                      Index("ix_usage_events_tenant_day", "tenant_id", "occurred_day"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                    autoincrement=True)  # SQLite autoincrements an INTEGER primary key only
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    source: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(100))
    component: Mapped[str] = mapped_column(String(120))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    occurred_at: Mapped[datetime] = mapped_column()
    occurred_day: Mapped[date] = mapped_column(Date)
    occurred_hour: Mapped[int] = mapped_column(SmallInteger)
    model: Mapped[str | None] = mapped_column(String(120))
    resource_id: Mapped[str | None] = mapped_column(String(120))
    spec_id: Mapped[str | None] = mapped_column(String(36))
    value_key: Mapped[str | None] = mapped_column(String(120))
    organization_id: Mapped[str | None] = mapped_column(String(36))
    business_system_id: Mapped[str | None] = mapped_column(String(36))
    provider: Mapped[str | None] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class RatedResource(Base):
    """A resource that runs on a plan from ``started_at`` until ``stopped_at`` (``billing/start``,
    ``billing/stop``); a spec change stops one and starts the next at the same instant."""

    __tablename__ = "rated_resources"
    __table_args__ = (UniqueConstraint("tenant_id", "resource_ref", "started_at"),
                      Index("ix_rated_resources_tenant_span", "tenant_id", "started_at", "stopped_at"))

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    resource_ref: Mapped[str] = mapped_column(String(120))
    plan_id: Mapped[str] = mapped_column(ForeignKey("price_plans.id"))
    spec_id: Mapped[str | None] = mapped_column(String(36))
    product_id: Mapped[str | None] = mapped_column(String(36))
    component: Mapped[str | None] = mapped_column(String(120))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    organization_id: Mapped[str | None] = mapped_column(String(36))
    business_system_id: Mapped[str | None] = mapped_column(String(36))
    provider: Mapped[str | None] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column()
    stopped_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BillingDay(Base):
    """A tenant's day as rating sees it: ingestion moves ``usage_version``, rating records the
    version it rated (a day is due while they differ), ``closed_at`` makes its lines final."""

    __tablename__ = "billing_days"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    usage_version: Mapped[int] = mapped_column(Integer, default=0)
    rated_version: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column()


class Bill(Base):
    """A tenant's bill for one month (``period`` YYYY-MM); once closed it never changes."""

    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("tenant_id", "period"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | closed
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    total: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()


class BillLine(Base):
    """One priced resource or usage group on one day, or an adjustment with its reason."""

    __tablename__ = "bill_lines"
    __table_args__ = (UniqueConstraint("tenant_id", "day", "line_key"),
                      Index("ix_bill_lines_bill", "bill_id", "day"),
                      Index("ix_bill_lines_tenant_target", "tenant_id", "day", "target_key"))

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    bill_id: Mapped[str] = mapped_column(ForeignKey("bills.id"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(12))  # rated | adjustment
    source: Mapped[str] = mapped_column(String(12))  # resource | usage | manual
    line_key: Mapped[str] = mapped_column(String(400))
    target_key: Mapped[str] = mapped_column(String(400))
    rated_resource_id: Mapped[str | None] = mapped_column(String(36))
    resource_id: Mapped[str | None] = mapped_column(String(120))
    component: Mapped[str | None] = mapped_column(String(120))
    model: Mapped[str | None] = mapped_column(String(120))
    spec_id: Mapped[str | None] = mapped_column(String(36))
    plan_id: Mapped[str | None] = mapped_column(ForeignKey("price_plans.id"))
    plan_code: Mapped[str | None] = mapped_column(String(64))
    plan_version: Mapped[int | None] = mapped_column(Integer)
    billing_mode: Mapped[str | None] = mapped_column(String(24))
    unit: Mapped[str | None] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    amount: Mapped[Decimal] = mapped_column(Amount)
    organization_id: Mapped[str | None] = mapped_column(String(36))
    business_system_id: Mapped[str | None] = mapped_column(String(36))
    provider: Mapped[str | None] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(64))
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderLinePrice(Base):
    """Which plan priced an order line when the order was placed (``billing/price_order`` in the
    order process), and why that plan; ``plan_id`` NULL when no plan applied then."""

    __tablename__ = "order_line_prices"

    order_item_id: Mapped[str] = mapped_column(ForeignKey("order_items.id", ondelete="CASCADE"), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(36), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    plan_id: Mapped[str | None] = mapped_column(ForeignKey("price_plans.id"))
    plan_code: Mapped[str | None] = mapped_column(String(64))
    plan_version: Mapped[int | None] = mapped_column(Integer)
    chosen: Mapped[dict[str, Any]] = mapped_column(default=dict)
    priced_at: Mapped[datetime] = mapped_column(default=utcnow)
