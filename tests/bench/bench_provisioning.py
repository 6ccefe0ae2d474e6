"""Provisioning benchmark: orders through the real ``provisioning`` process, RabbitMQ and 2
``aicmp worker`` processes against the simulator, on PostgreSQL: resources/s and the p50/p95 time
from an order's start to its order running. Baselines in the same run, reported as ratios:

- the bare connector: the simulator's ``create`` called directly, one call after another (what one
  worker could do with no platform around the cloud call);
- the same orders in the embedded eager mode (no broker: each job runs inline in the step that
  queued it), on the same PostgreSQL server.

    .venv/bin/python -m tests.bench.bench_provisioning [--orders 20] [--copies 5] [--latency-ms 20]
                                                       [--workers 2] [--concurrency 1]

Starts its own PostgreSQL (fsync on) and RabbitMQ (tests/servers.py); the calling process plays the
API: it writes each order and starts its ``provisioning`` instance (plan + the create jobs queued),
then watches the orders' status. Each order has one line of ``--copies`` copies (one unit each).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from connectors import registry
from connectors.base import ResourceSpec
from tests import servers
from tests.reliability.harness import CLOUD, KEY, Stack


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def bare_connector(stack: Stack, n: int) -> float:
    """Creates per second, the simulator alone (same state file, same latency)."""
    cloud = registry.connect("simulator", f"sim://{CLOUD}", None, {"api_key": KEY}, {"state_path": str(stack.state)})
    began = time.perf_counter()
    for i in range(n):
        cloud.create(ResourceSpec(name=f"bare-{i}", vcpu=1, memory_gib=Decimal(1)), f"bare-{uuid.uuid4().hex}")
    return n / (time.perf_counter() - began)


def run_orders(stack: Stack, orders: int, copies: int, timeout: float = 600) -> tuple[float, list[float]]:
    """Start every order, then wait for all to run; (resources/s, seconds from start to running each)."""
    made = [stack.order(copies) for _ in range(orders)]
    started: dict[str, float] = {}
    ids = []
    t0 = time.perf_counter()
    running: dict[str, float] = {}
    for order in made:
        started[order["order_id"]] = time.perf_counter()
        ids.append(stack.provision(order, copies))
        if stack.order_status(order["order_id"]) == "running":  # eager: done inside the start already
            running[order["order_id"]] = time.perf_counter()
    deadline = time.monotonic() + timeout
    while len(running) < orders:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(running)} of {orders} orders running after {timeout:.0f} s: "
                             f"{stack.incidents()[:3]}")
        now = time.perf_counter()
        for order in made:
            oid = order["order_id"]
            if oid not in running and stack.order_status(oid) in ("running", "partial", "failed"):
                running[oid] = now
        time.sleep(0.02)
    elapsed = max(running.values()) - t0
    failed = [oid for oid in running if stack.order_status(oid) != "running"]
    if failed or stack.incidents():
        raise SystemExit(f"orders not running: {failed}; incidents: {stack.incidents()[:3]}")
    return orders * copies / elapsed, [running[oid] - started[oid] for oid in running]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--copies", type=int, default=5, help="units per order")
    parser.add_argument("--latency-ms", type=int, default=20, help="the simulator's latency per call")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1, help="pool processes per worker")
    args = parser.parse_args()
    units = args.orders * args.copies
    with tempfile.TemporaryDirectory(prefix="aicmp-bench-prov-") as tmp:
        root = Path(tmp)
        pg = servers.start_postgres(root / "pg", fsync=True)
        mq = servers.start_rabbitmq(root / "mq")
        try:
            # the embedded default, same orders, same PostgreSQL server
            eager = Stack.build(servers.create_database(pg.url, "bench_eager"), None, root / "eager")
            eager.cloud(latency_ms=args.latency_ms)
            bare = bare_connector(eager, min(units, 100))
            eager_rate, eager_times = run_orders(eager, args.orders, args.copies)
            eager.close()

            stack = Stack.build(servers.create_database(pg.url, "bench_mq"), mq, root / "mq-stack")
            stack.cloud(latency_ms=args.latency_ms)
            for _ in range(args.workers):
                stack.worker(concurrency=args.concurrency)
            rate, times = run_orders(stack, args.orders, args.copies)
            total = stack.provider_total()
            stack.close()
        finally:
            mq.stop()
            pg.stop()
    print(f"provisioning: {args.orders} orders x {args.copies} units = {units} resources, simulator latency "
          f"{args.latency_ms} ms, PostgreSQL (fsync on)")
    print(f"  RabbitMQ, {args.workers} workers x {args.concurrency}: {rate:7.1f} resources/s   order-to-running "
          f"p50 {statistics.median(times):.2f} s, p95 {_p(times, 0.95):.2f} s   ({total} made at the provider)")
    print(f"  embedded eager (baseline):   {eager_rate:7.1f} resources/s   order-to-running "
          f"p50 {statistics.median(eager_times):.2f} s, p95 {_p(eager_times, 0.95):.2f} s")
    print(f"  bare connector create:       {bare:7.1f} creates/s")
    print(f"  ratios: RabbitMQ / eager = {rate / eager_rate:.2f}x resources/s; "
          f"RabbitMQ / bare connector = {rate / bare:.2f}x")


if __name__ == "__main__":
    main()
