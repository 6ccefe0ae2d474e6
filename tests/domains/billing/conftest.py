"""Billing test helpers: a catalog spec, plans, events and shortcuts on an engine from ``engine`` /
``any_engine`` (tests/conftest.py; tenants t-alpha and t-beta).

    World(engine)          .spec / .product ids of one GPU server spec; .plan(**fields) creates a plan;
                           .events(n, **data) makes CloudEvents; .ingest(events, tenant) stores them;
                           .rate(tenant, day) / .close(tenant, day); .lines(tenant, day) / .total(tenant)
    STAFF                  a platform admin Principal
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from engine.domains.billing import plans, rating, resources, usage
from engine.domains.billing.models import BillLine
from engine.domains.catalog.models import Product, ProductCategory, ProductSpec
from engine.principal import Principal

STAFF = Principal("u-admin", "admin", None, None, ("platform_admin",))
_ids = itertools.count(1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class World:
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        with engine.db.write() as s:
            cat = ProductCategory(code="gpu", name="GPU")
            s.add(cat)
            s.flush()
            product = Product(code="gpu-host", name="GPU host", category_id=cat.id)
            s.add(product)
            s.flush()
            spec = ProductSpec(product_id=product.id, code="8xh100", name="8 x H100", vcpu=96, gpu_count=8,
                               gpu_model="H100", gpus_by_model={"H100": 8})
            s.add(spec)
            s.flush()
            self.product, self.spec = product.id, spec.id

    def plan(self, **fields: Any) -> str:
        raw = {"code": f"plan-{next(_ids)}", "name": "a plan", "target_kind": "spec", "target": self.spec,
               "billing_mode": "on_demand", "unit": "month", "unit_price": "3100",
               "valid_from": "2020-01-01T00:00:00+00:00", **fields}
        with self.engine.db.write() as s:
            return plans.create(s, raw, actor="admin").id

    @staticmethod
    def event(**data: Any) -> dict[str, Any]:
        n = next(_ids)
        time = data.pop("time", "2026-03-01T10:00:00Z")
        source = data.pop("source", "gateway-1")
        kind = "aicmp.usage.model" if data.get("component") in usage.MODEL_COMPONENTS else "aicmp.usage.resource"
        return {"specversion": "1.0", "id": data.pop("id", f"evt-{n}"), "source": source, "type": kind,
                "time": time, "data": {"component": "input_tokens", "quantity": "1000", "model": "qwen-72b", **data}}

    def ingest(self, events: list[Any], tenant: str | None = "t-alpha") -> dict[str, Any]:
        with self.engine.db.write() as s:
            return usage.ingest(s, events, tenant_id=tenant)

    def rate(self, tenant: str, day: date) -> dict[str, Any]:
        with self.engine.db.write() as s:
            return rating.rate_day(s, tenant, day)

    def close(self, tenant: str, day: date) -> dict[str, Any]:
        with self.engine.db.write() as s:
            return rating.close_day(s, tenant, day)

    def start(self, tenant: str = "t-alpha", **kw: Any) -> str:
        with self.engine.db.write() as s:
            row, _created = resources.start(s, tenant, **{"spec_id": self.spec, **kw})
            return row.id

    def stop(self, tenant: str = "t-alpha", **kw: Any) -> dict[str, Any]:
        with self.engine.db.write() as s:
            return resources.stop(s, tenant, **kw)

    def lines(self, tenant: str, day: date | None = None) -> list[BillLine]:
        with self.engine.db.read() as s:
            q = select(BillLine).where(BillLine.tenant_id == tenant)
            if day is not None:
                q = q.where(BillLine.day == day)
            return list(s.scalars(q.order_by(BillLine.day, BillLine.kind, BillLine.line_key)))

    def total(self, tenant: str) -> Decimal:
        with self.engine.db.read() as s:
            return Decimal(s.scalar(select(func.coalesce(func.sum(BillLine.amount), 0))
                                    .where(BillLine.tenant_id == tenant)))
