"""Resources benchmark: what a sync of one account costs as its inventory grows, against the
provider call alone (the simulator's ``capacity`` + ``list_resources``) in the same run.

    .venv/bin/python -m tests.bench.bench_resources [--resources 100 1000]

For each size: resources created in a simulated cloud, then the median of 3 runs of (a) the
connector calls alone (baseline) and (b) ``service.sync_account`` (the same calls, then pools and
inventory written in one transaction), first sync (inserts) and repeat syncs (updates) apart; and
``pools_for_placement`` for one tenant. Reported as milliseconds and as ratios to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors import registry, simulator
from connectors.base import ResourceSpec
from engine.config import Settings
from engine.core import Engine
from engine.domains.resources import service
from engine.domains.resources.accounts import SIMULATOR_STATE
from engine.models import Tenant
from engine.principal import Principal

STAFF = Principal("u-admin", "admin", None, None, ("platform_admin",))
KEY = "bench-simulator-key-0123456789"


def _ms(run: Any, times: int = 3) -> float:
    samples = []
    for _ in range(times):
        began = time.perf_counter()
        run()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def measure(size: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        engine = Engine(Settings(var_dir=root, database_url=f"sqlite:///{root / 'aicmp.db'}", credentials_key=""))
        with engine.db.write() as s:
            s.add(Tenant(id="t-alpha", code="alpha", name="Alpha"))
        state = root / SIMULATOR_STATE
        simulator.configure(state, "bench", api_key=KEY, zones={
            "zone-a": simulator.Zone(vcpu=size * 4, memory_gib=size * 8, disk_gib=size * 100)})
        cloud = registry.connect("simulator", "sim://bench", None, {"api_key": KEY}, {"state_path": str(state)})
        for i in range(size):
            cloud.create(ResourceSpec(name=f"vm-{i}", vcpu=2, memory_gib=Decimal(4)), f"t-{i}")
        account = service.create_account(engine, STAFF, name="bench", provider_type="simulator",
                                         endpoint="sim://bench", credentials={"api_key": KEY})
        baseline = _ms(lambda: (cloud.capacity(), cloud.list_resources()))
        began = time.perf_counter()
        service.sync_account(engine, STAFF, account["id"])
        first = (time.perf_counter() - began) * 1000
        repeat = _ms(lambda: service.sync_account(engine, STAFF, account["id"]))
        placement = _ms(lambda: service.pools_for_placement(engine, "t-alpha"), 10)
        engine.close()
    return (f"{size:>6} resources: provider calls {baseline:8.1f} ms | first sync {first:8.1f} ms "
            f"({first / baseline:4.1f}x) | repeat sync {repeat:8.1f} ms ({repeat / baseline:4.1f}x) | "
            f"pools_for_placement {placement:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, nargs="+", default=[100, 1000])
    for size in parser.parse_args().resources:
        print(measure(size))


if __name__ == "__main__":
    main()
