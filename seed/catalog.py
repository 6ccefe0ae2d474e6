"""Demo catalog: two-level categories and a few products (one opened to tenant alpha only).

Idempotent like the rest of the seed: what exists (by code) is left alone.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.domains.catalog.models import Product, ProductCategory, ProductSpec, ProductVisibility
from engine.models.base import new_id

ACTOR = "seed"

# (code, name, parent code)
CATEGORIES = (
    ("compute", "Compute", None),
    ("cpu", "CPU servers", "compute"),
    ("gpu", "GPU servers", "compute"),
    ("network", "Network", None),
    ("eip", "Elastic IPs", "network"),
)


def _spec(code: str, name: str, vcpu: int, memory: str, disk: str, gpu_model: str | None = None, gpus: int = 0,
          instances: int = 1, eips: int = 0) -> dict[str, Any]:
    return {"code": code, "name": name, "vcpu": vcpu, "memory_gib": Decimal(memory), "disk_gib": Decimal(disk),
            "gpu_model": gpu_model, "gpu_count": gpus, "gpus_by_model": {gpu_model: gpus} if gpu_model and gpus else {},
            "instances": instances, "eips": eips}


# (code, name, description, category code, tenant codes it is opened to (None: every tenant), specs)
PRODUCTS = (
    ("vm-general", "General purpose VM", "Virtual machines for services, notebooks and data preparation.", "cpu",
     None, (_spec("small", "2 vCPU / 4 GiB", 2, "4", "50"), _spec("medium", "4 vCPU / 16 GiB", 4, "16", "100"),
            _spec("large", "16 vCPU / 64 GiB", 16, "64", "200"))),
    ("gpu-a100", "A100 GPU server", "NVIDIA A100 80 GB servers for training and fine-tuning.", "gpu", None,
     (_spec("a100-1", "1 x A100", 16, "128", "500", "A100", 1, eips=1),
      _spec("a100-8", "8 x A100", 96, "1024", "4000", "A100", 8, eips=1))),
    ("gpu-h100", "H100 GPU server", "NVIDIA H100 SXM servers for large-scale training.", "gpu", None,
     (_spec("h100-8", "8 x H100", 192, "2048", "8000", "H100", 8, eips=1),)),
    ("eip", "Elastic IP", "A public IPv4 address.", "eip", None, (_spec("eip-1", "1 elastic IP", 0, "0", "0",
                                                                        instances=0, eips=1),)),
    ("alpha-dgx", "Alpha reserved DGX pod", "A DGX pod reserved for Alpha Compute Co.", "gpu", ("alpha",),
     (_spec("pod-4", "4 x DGX H100 (32 GPUs)", 896, "8192", "30000", "H100", 32, instances=4, eips=1),)),
)


def seed_catalog(s: Session, tenants: dict[str, str]) -> list[str]:
    """Create the demo categories and products that are missing; returns the product codes created.
    ``tenants``: tenant code -> id."""
    cats = {c.code: c for c in s.scalars(select(ProductCategory))}
    for order, (code, name, parent) in enumerate(CATEGORIES):
        if code not in cats:
            cats[code] = ProductCategory(id=new_id(), code=code, name=name,
                                         parent_id=cats[parent].id if parent else None, sort_order=order)
            s.add(cats[code])
            s.flush()
    existing = set(s.scalars(select(Product.code)))
    created = []
    for code, name, description, category, opened_to, specs in PRODUCTS:
        if code in existing:
            continue
        product = Product(id=new_id(), code=code, name=name, description=description, category_id=cats[category].id,
                          visibility="tenants" if opened_to else "all")
        s.add(product)
        s.flush()
        s.add_all(ProductSpec(product_id=product.id, sort_order=i, **spec) for i, spec in enumerate(specs))
        s.add_all(ProductVisibility(product_id=product.id, tenant_id=tenants[t]) for t in opened_to or ()
                  if t in tenants)
        audit.record(s, action="catalog.product.create", actor=ACTOR, target_type="product", target_id=product.id,
                     detail={"code": code, "visibility": product.visibility})
        created.append(code)
    s.flush()
    return created
