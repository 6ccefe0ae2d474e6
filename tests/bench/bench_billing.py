"""Billing benchmark: rate usage events into bill lines, and ingest them over HTTP and through RabbitMQ,
on SQLite and PostgreSQL; events/s and peak memory (RSS) of each phase.

    .venv/bin/python -m tests.bench.bench_billing [--events 1000000] [--ingest 100000] [--db sqlite postgres]

Each phase runs in a forked child process, so its peak RSS is its own. Baselines, measured in the
same run on the same rows:

- rating: the one grouped ``SELECT ... SUM(quantity) ... GROUP BY`` a day of usage needs (the floor of a
  set-based rater), against ``rating.rate_day`` (aggregation, pricing, lines, totals) over the same days;
- ingestion: a bare multi-row INSERT of the same rows (no parsing, validation, HTTP or queue), against
  ``POST /api/v1/usage`` (Flask's WSGI test client in the same process: JSON parsing, token check,
  validation, idempotent insert) and the pika consumer draining a durable queue.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import secrets
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 10
TENANT = "t-bench"


def _rows(n: int, offset: int = 0) -> list[dict[str, Any]]:
    """``n`` events over ``DAYS`` days: 20 models x 50 resources = 1,000 lines per day."""
    out = []
    per_day = max(1, n // DAYS)
    for i in range(offset, offset + n):
        at = T0 + timedelta(days=(i - offset) // per_day % DAYS, seconds=i % 86_000)
        out.append({"tenant_id": TENANT, "source": "bench", "event_id": f"e{i}", "type": "aicmp.usage.model",
                    "component": "input_tokens", "quantity": Decimal(100), "occurred_at": at,
                    "occurred_day": at.date(), "occurred_hour": at.hour, "model": f"m{i % 20}",
                    "resource_id": f"r{(i // 20) % 50}", "received_at": T0})
    return out


def _events(n: int, offset: int, tenant: str | None) -> list[dict[str, Any]]:
    out = []
    for row in _rows(n, offset):
        event = {"specversion": "1.0", "id": row["event_id"], "source": "bench", "type": row["type"],
                 "time": row["occurred_at"].isoformat(),
                 "data": {"component": "input_tokens", "quantity": "100", "model": row["model"],
                          "resource_id": row["resource_id"]}}
        if tenant:
            event["tenantid"] = tenant
        out.append(event)
    return out


def _engine(url: str, var: Path) -> Any:
    from engine.config import Settings
    from engine.core import Engine

    return Engine(Settings(var_dir=var, database_url=url))


def _setup(url: str, var: Path) -> None:
    from engine.domains.billing import plans
    from engine.models import Tenant
    from seed import seed

    eng = _engine(url, var)
    seed(eng, demo_password="Bench-Passw0rd!", announce=None)
    with eng.db.write() as s:
        s.add(Tenant(id=TENANT, code="bench", name="Bench"))
        s.flush()
        plans.create(s, {"code": "bench-tokens", "name": "tokens", "target_kind": "component",
                         "target": "input_tokens", "billing_mode": "per_use", "unit": "use",
                         "unit_price": "0.00002", "valid_from": "2020-01-01T00:00:00+00:00"}, actor="bench")
    eng.close()


def _child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``fn`` in a forked process; its result plus the child's peak RSS (MiB)."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()

    def run() -> None:
        from engine import clock

        clock.use(clock.FrozenClock(T0 + timedelta(days=DAYS + 1)))
        result = fn(*args)
        result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        queue.put(result)

    proc = ctx.Process(target=run)
    proc.start()
    result = queue.get()
    proc.join()
    return result


def bulk_insert(url: str, var: Path, n: int) -> dict[str, Any]:
    from sqlalchemy import insert

    from engine.domains.billing.models import UsageEvent

    eng = _engine(url, var)
    started = time.perf_counter()
    for i in range(0, n, 20_000):
        rows = _rows(min(20_000, n - i), i)
        with eng.db.write() as s:
            s.execute(insert(UsageEvent), rows)
    took = time.perf_counter() - started
    eng.close()
    return {"events": n, "seconds": took}


def group_baseline(url: str, var: Path) -> dict[str, Any]:
    from sqlalchemy import func, select

    from engine.domains.billing.models import UsageEvent

    eng = _engine(url, var)
    e = UsageEvent
    started = time.perf_counter()
    groups = 0
    with eng.db.read() as s:
        for d in range(DAYS):
            day = (T0 + timedelta(days=d)).date()
            groups += len(s.execute(select(e.component, e.model, e.resource_id, func.sum(e.quantity)).where(
                e.tenant_id == TENANT, e.occurred_day == day).group_by(e.component, e.model, e.resource_id)).all())
    took = time.perf_counter() - started
    eng.close()
    return {"groups": groups, "seconds": took}


def rate(url: str, var: Path) -> dict[str, Any]:
    from engine.domains.billing import rating

    eng = _engine(url, var)
    started = time.perf_counter()
    lines = 0
    for d in range(DAYS):
        with eng.db.write() as s:
            lines += rating.rate_day(s, TENANT, (T0 + timedelta(days=d)).date())["lines"]
    took = time.perf_counter() - started
    eng.close()
    return {"lines": lines, "seconds": took}


def http_ingest(url: str, var: Path, n: int, offset: int) -> dict[str, Any]:
    from api import create_app

    eng = _engine(url, var)
    client = create_app(engine=eng).test_client()
    token = client.post("/api/v1/auth/login", json={"username": "admin", "password": "Bench-Passw0rd!"})
    headers = {"Authorization": f"Bearer {token.get_json()['access_token']}"}
    bodies = [json.dumps({"events": _events(min(5_000, n - i), offset + i, TENANT)}) for i in range(0, n, 5_000)]
    started = time.perf_counter()
    accepted = 0
    for body in bodies:
        resp = client.post("/api/v1/usage", data=body, content_type="application/json", headers=headers)
        assert resp.status_code == 200, resp.get_json()
        accepted += resp.get_json()["accepted"]
    took = time.perf_counter() - started
    eng.close()
    return {"events": accepted, "seconds": took}


def queue_ingest(url: str, var: Path, broker: str, n: int, offset: int) -> dict[str, Any]:
    from engine.domains.billing import consumer

    eng = _engine(url, var)
    queue = f"bench-{offset}"
    t0 = time.perf_counter()
    consumer.publish(broker, _events(n, offset, TENANT), queue=queue, per_message=500)
    published = time.perf_counter() - t0
    started = time.perf_counter()
    counts = consumer.UsageConsumer(eng, broker, queue=queue, batch=10_000).run(idle_exit_s=1.0)
    took = time.perf_counter() - started - 1.0  # less the idle second that ends the run
    eng.close()
    return {"events": counts.accepted, "seconds": took, "publish_seconds": published}


def _rate(r: dict[str, Any], key: str = "events") -> float:
    return r[key] / r["seconds"] if r["seconds"] else float("inf")


def run(name: str, url: str, var: Path, events: int, ingest: int, broker: str | None) -> None:
    _setup(url, var)
    insert = _child(bulk_insert, url, var, events)
    base = _child(group_baseline, url, var)
    rated = _child(rate, url, var)
    print(f"\n== {name}: {events:,} events, {DAYS} days, {rated['lines']:,} lines")
    print(f"bulk INSERT (baseline)   {_rate(insert):>12,.0f} events/s   peak {insert['peak_rss_mib']} MiB")
    print(f"GROUP BY only (baseline) {events / base['seconds']:>12,.0f} events/s   {base['seconds']:.2f} s")
    print(f"rating (rate_day)        {events / rated['seconds']:>12,.0f} events/s   {rated['seconds']:.2f} s   "
          f"peak {rated['peak_rss_mib']} MiB   = {base['seconds'] / rated['seconds']:.2f} x the GROUP BY floor")
    if ingest:
        http = _child(http_ingest, url, var, ingest, 10_000_000)
        print(f"HTTP ingestion           {_rate(http):>12,.0f} events/s   peak {http['peak_rss_mib']} MiB   "
              f"= {_rate(http) / _rate(insert):.2f} x bulk INSERT")
        if broker:
            q = _child(queue_ingest, url, var, broker, ingest, 20_000_000)
            print(f"RabbitMQ ingestion       {_rate(q):>12,.0f} events/s   peak {q['peak_rss_mib']} MiB   "
                  f"= {_rate(q) / _rate(insert):.2f} x bulk INSERT   "
                  f"(publishing: {ingest / q['publish_seconds']:,.0f}/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events to rate (default 1,000,000)")
    parser.add_argument("--ingest", type=int, default=1_000_000, help="events to ingest over HTTP and the queue")
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--no-queue", action="store_true", help="skip RabbitMQ")
    args = parser.parse_args()
    from tests import servers

    # with PostgreSQL or a broker the engine wants a shared credentials key (resources domain)
    os.environ.setdefault("AICMP_CREDENTIALS_KEY", secrets.token_urlsafe(48))

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        broker = None
        stoppers = []
        if not args.no_queue and args.ingest:
            mq = servers.start_rabbitmq(root / "mq")
            stoppers.append(mq)
            broker = mq.url
        try:
            for name in args.db:
                var = root / name
                var.mkdir()
                if name == "sqlite":
                    url = f"sqlite:///{var / 'bench.db'}"
                else:
                    pg = servers.start_postgres(root / "pg", fsync=True)
                    stoppers.append(pg)
                    url = servers.create_database(pg.url, "bench")
                run(name, url, var, args.events, args.ingest, broker)
        finally:
            for server in stoppers:
                server.stop()


if __name__ == "__main__":
    main()
