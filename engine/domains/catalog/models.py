"""The product catalog: two-level categories, products, their specs, and who may see them.

Categories and products are platform-owned. A product is visible to every tenant
(``visibility = "all"``) or only to the tenants listed in ``product_visibility``
(``visibility = "tenants"``). A spec's dimensions are structured columns, not text, because
quota reservations and orders add them up per dimension (``connectors.vector``: one column mixin,
GPUs per accelerator model included). ``ItemLine`` is a chosen spec as an
application line or an order line records it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connectors.vector import ResourceColumns
from engine.models.base import Base, IdColumn, new_id, utcnow


class ProductCategory(Base):
    """A top-level category (``parent_id`` NULL) or one of its children; never deeper."""

    __tablename__ = "product_categories"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("product_categories.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Product(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    category_id: Mapped[str] = mapped_column(ForeignKey("product_categories.id"), index=True)
    visibility: Mapped[str] = mapped_column(String(16), default="all")  # all | tenants
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductVisibility(Base):
    """A tenant that may see a ``visibility = "tenants"`` product."""

    __tablename__ = "product_visibility"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)


class ProductSpec(ResourceColumns, Base):
    """One orderable configuration of a product; the dimensions are per unit ordered."""

    __tablename__ = "product_specs"
    __table_args__ = (UniqueConstraint("product_id", "code"), Index("ix_product_specs_gpu_model", "gpu_model"))

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class ItemLine(ResourceColumns):
    """What an application line and an order line both record: the product and spec as chosen,
    and the resource dimensions they book (copied, so later catalog edits change nothing)."""

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    spec_id: Mapped[str] = mapped_column(ForeignKey("product_specs.id"))
    product_name: Mapped[str] = mapped_column(String(200))
    spec_name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    # months the line is bought for (1..60; a running unit expires that many calendar months after
    # it started, engine.domains.provisioning); None: runs until someone terminates it
    term_months: Mapped[int | None] = mapped_column(Integer)
