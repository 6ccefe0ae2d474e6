"""Inbox query benchmark data and measurement (used by bench_engine and by the EXPLAIN test).

``bulk_inbox`` inserts open tasks directly (one instance per tenant, five lane roles per tenant,
a personal candidate on every tenth task); ``report_inbox`` times page 1 of one tenant user's
todo list against a primary-key fetch in the same run.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text

from engine.models import HumanTask, HumanTaskCandidate, ProcessDefinition, ProcessInstance, Tenant

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def bulk_inbox(eng: Any, tenants: int, per_tenant: int) -> list[str]:
    """Insert ``tenants`` x ``per_tenant`` open tasks; returns the tenant ids. Needs one deployed definition."""
    with eng.db.read() as s:
        definition_id = s.scalar(select(func.min(ProcessDefinition.id)))
    if definition_id is None:
        raise RuntimeError("deploy a process first: the bulk tasks need a definition to point at")
    ids = [f"bench-{n:04d}" for n in range(tenants)]
    with eng.db.write() as s:
        s.execute(insert(Tenant), [{"id": t, "code": t, "name": t} for t in ids])
        instances = [{"id": str(uuid.uuid4()), "tenant_id": t, "definition_id": definition_id,
                      "process_key": "bulk", "status": "running", "serializer_version": "1.5", "state_json": "{}",
                      "lock_version": 1, "bound_definitions": {}, "created_at": T0, "updated_at": T0} for t in ids]
        s.execute(insert(ProcessInstance), instances)
        tasks, cands = [], []
        for inst in instances:
            for n in range(per_tenant):
                task_id = str(uuid.uuid4())
                tasks.append({"id": task_id, "instance_id": inst["id"], "tenant_id": inst["tenant_id"],
                              "process_key": "bulk", "task_spec": "approve", "lane": f"role{n % 5}",
                              "created_at": T0 + timedelta(seconds=n), "extra": {}})
                cands.append({"task_id": task_id, "kind": "role", "value": f"role{n % 5}",
                              "tenant_id": inst["tenant_id"]})
                if n % 10 == 0:
                    cands.append({"task_id": task_id, "kind": "user", "value": f"user{n % 7}",
                                  "tenant_id": inst["tenant_id"]})
        for start in range(0, len(tasks), 5000):
            s.execute(insert(HumanTask), tasks[start:start + 5000])
        for start in range(0, len(cands), 5000):
            s.execute(insert(HumanTaskCandidate), cands[start:start + 5000])
    if eng.db.engine.dialect.name == "postgresql":
        with eng.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    return ids


def _timed(fn: Callable[[int], Any], n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def report_inbox(eng: Any, open_tasks: int, tenants: int = 1000) -> None:
    tenant_ids = bulk_inbox(eng, tenants=tenants, per_tenant=max(1, open_tasks // tenants))
    with eng.db.read() as s:
        some_ids = list(s.scalars(select(HumanTask.id).limit(500)))

    def list_one(i: int) -> None:
        eng.inbox.list_tasks(tenant_ids[(i * 37) % len(tenant_ids)], f"user{i % 7}", [f"role{i % 5}"], page_size=20)

    def by_key(i: int) -> None:
        with eng.db.read() as s:
            s.get(HumanTask, some_ids[i % len(some_ids)])

    _timed(list_one, 100)
    _timed(by_key, 100)
    listing, fetch = _timed(list_one, 2000), _timed(by_key, 2000)
    for name, values in (("inbox page 1 (todo)", listing), ("primary-key fetch", fetch)):
        p50, p95 = statistics.median(values), statistics.quantiles(values, n=20)[18]
        print(f"{name:<28} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   ({open_tasks} open tasks, {tenants} tenants)")
    ratio = statistics.quantiles(listing, n=20)[18] / statistics.quantiles(fetch, n=20)[18]
    print(f"{'inbox p95 / pk-fetch p95':<28} {ratio:6.2f}x"
          "   (target: inbox p95 <= 10 ms)")
