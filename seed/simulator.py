"""The demo's cloud: a platform simulator account with four zones as resource pools (a CPU zone and
H100, A100 and Ascend 910B zones), their unit costs and performance scores, and a price plan for
each demo spec, so an application approved on the demo is placed, created, billed and running end
to end without any real cloud.

Idempotent: an existing account of that name is left as it is (its pools, prices and resources).
The simulated cloud lives in the data dir's simulator state file (``SIMULATOR_STATE``), like every
simulator account's.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from connectors import simulator
from engine.core import Engine
from engine.domains.billing import plans
from engine.domains.billing.models import PricePlan
from engine.domains.catalog.models import ProductSpec
from engine.domains.resources import service as resources
from engine.domains.resources.accounts import SIMULATOR_STATE
from engine.domains.resources.models import PLATFORM_OWNER, CloudAccount, ResourcePool
from engine.principal import Principal

ACCOUNT = "Demo simulator"
CLOUD = "demo"
SEEDER = Principal("seed", "seed", None, None, ("platform_admin",))
# zone -> (capacity, unit costs per hour, accelerator performance scores)
ZONES: dict[str, tuple[simulator.Zone, dict[str, str], dict[str, str]]] = {
    "cpu-zone": (simulator.Zone(vcpu=512, memory_gib=2048, disk_gib=40000),
                 {"vcpu": "0.020", "memory_gib": "0.004", "disk_gib": "0.0001"}, {}),
    "h100-zone": (simulator.Zone(vcpu=768, memory_gib=8192, disk_gib=64000, gpus={"H100": 32}),
                  {"vcpu": "0.025", "memory_gib": "0.005", "gpus:H100": "3.20"}, {"H100": "100"}),
    "a100-zone": (simulator.Zone(vcpu=512, memory_gib=4096, disk_gib=40000, gpus={"A100": 32}),
                  {"vcpu": "0.022", "memory_gib": "0.004", "gpus:A100": "1.80"}, {"A100": "62"}),
    "910b-zone": (simulator.Zone(vcpu=384, memory_gib=3072, disk_gib=30000, gpus={"Ascend 910B": 32}),
                  {"vcpu": "0.018", "memory_gib": "0.003", "gpus:Ascend 910B": "1.40"}, {"Ascend 910B": "55"}),
}
# demo spec code -> monthly on-demand price
PRICES = {"small": "30", "medium": "90", "large": "300", "a100-1": "1500", "a100-8": "11000", "h100-8": "22000",
          "pod-4": "90000", "eip-1": "5"}


def seed_simulator(engine: Engine) -> list[str]:
    """Create the demo cloud when it is missing; returns what was created (for the seed's report)."""
    created = _plans(engine)
    with engine.db.read() as s:
        exists = s.scalar(select(CloudAccount.id).where(CloudAccount.owner_key == PLATFORM_OWNER,
                                                        CloudAccount.name == ACCOUNT))
    if exists is not None:
        return created
    key = secrets.token_urlsafe(24)
    simulator.configure(engine.settings.var_dir / SIMULATOR_STATE, CLOUD, api_key=key,
                        zones={zone: spec[0] for zone, spec in ZONES.items()})
    account = resources.create_account(engine, SEEDER, name=ACCOUNT, provider_type="simulator",
                                       endpoint=f"{simulator.SCHEME}{CLOUD}", credentials={"api_key": key})
    resources.sync_account(engine, SEEDER, account["id"])
    with engine.db.read() as s:
        pools = {p.scope: p.id for p in s.scalars(select(ResourcePool).where(ResourcePool.account_id == account["id"]))}
    for zone, (_capacity, costs, scores) in ZONES.items():
        resources.update_pool(engine, SEEDER, pools[zone], name=f"Simulator {zone}", unit_costs=costs,
                              perf_scores=scores)
    return [*created, f"account {ACCOUNT} ({len(pools)} pools)"]


def _plans(engine: Engine) -> list[str]:
    """A monthly on-demand plan per demo spec that has none of its code yet."""
    made: list[str] = []
    with engine.db.write() as s:
        specs = {sp.code: sp.id for sp in s.scalars(select(ProductSpec).where(ProductSpec.code.in_(PRICES)))}
        known = set(s.scalars(select(PricePlan.code).where(PricePlan.code.in_([f"demo-{c}" for c in PRICES]))))
        for code, price in PRICES.items():
            if code not in specs or f"demo-{code}" in known:
                continue
            raw: dict[str, Any] = {"code": f"demo-{code}", "name": f"Demo {code}", "target_kind": "spec",
                                   "target": specs[code], "billing_mode": "on_demand", "unit": "month",
                                   "unit_price": str(Decimal(price)), "valid_from": "2020-01-01T00:00:00+00:00"}
            plans.create(s, raw, actor="seed")
            made.append(f"plan demo-{code}")
    return made
