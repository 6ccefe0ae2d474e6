"""Does a process that loops stay as cheap per step as it was on its first pass?

    python -m tests.bench.bench_loops [--loops 20] [--postgres]

One application goes round reject -> resubmit ``--loops`` times (the organisation's approver
rejects, the applicant resubmits), then is approved to its order. For each loop it prints the
instance's saved state (bytes of ``state_json``), the statements and the time of the reject and
the resubmit, and at the end the last loop's figures as ratios of the first's. The application's
lines stay in their tables: the process holds ids, so the saved state may only grow by the task
records of the loop itself.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api import create_app
from engine.models import ProcessInstance
from tests.api.conftest import Shop, make_api_engine
from tests.sql_budget import CountingClient


def _state_bytes(shop: Shop, app_id: str) -> int:
    with shop.engine.db.read() as s:
        state = s.scalar(select(ProcessInstance.state_json).where(ProcessInstance.business_key == app_id,
                                                                  ProcessInstance.status == "running"))
    return len(state or "")


def _timed(counting: CountingClient, name: str, method: str, path: str, **kwargs: Any) -> tuple[float, int]:
    started = time.perf_counter()
    resp = counting.call(name, method, path, **kwargs)
    ms = (time.perf_counter() - started) * 1000
    assert resp.status_code == 200, resp.get_json()
    return ms, counting.requests[-1][1].count


def run(loops: int, url: str | None) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_api_engine(url or f"sqlite:///{Path(tmp) / 'bench.db'}", Path(tmp))
        try:
            shop = Shop(create_app(engine=engine).test_client(), engine)
            shop.set_quota("alpha", vcpu=1000, memory_gib=16384, disk_gib=100000, gpus=16, instances=20, eips=20)
            engine.authorizer.check_interval = 3600.0
            counting = CountingClient(shop.client, engine.db.engine)
            user, approver = shop.headers("alpha-user"), shop.headers("alpha-approver")
            created = shop.client.post("/api/v1/applications", headers=user, json={
                "business_system_id": shop.system["alpha"], "purpose": "loops", "title": "Loop benchmark",
                "items": [{"spec_id": shop.spec("gpu-a100", "a100-1"), "quantity": 1}], "submit": True})
            assert created.status_code == 201, created.get_json()
            app_id = created.get_json()["id"]
            rows = []
            for loop in range(1, loops + 1):
                reject_ms, reject_n = _timed(counting, "reject", "POST", f"/api/v1/applications/{app_id}/decision",
                                             headers=approver, json={"decision": "reject", "comment": f"loop {loop}"})
                resubmit_ms, resubmit_n = _timed(counting, "resubmit", "POST",
                                                 f"/api/v1/applications/{app_id}/resubmit", headers=user)
                rows.append({"loop": loop, "state_bytes": _state_bytes(shop, app_id), "reject_ms": reject_ms,
                             "reject_statements": reject_n, "resubmit_ms": resubmit_ms,
                             "resubmit_statements": resubmit_n})
            return rows
        finally:
            engine.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--loops", type=int, default=20)
    ap.add_argument("--postgres", metavar="URL", default=None, help="a PostgreSQL URL instead of SQLite")
    args = ap.parse_args()
    rows = run(args.loops, args.postgres)
    print(f"{'loop':>4} {'state bytes':>11} {'reject ms':>9} {'stmts':>5} {'resubmit ms':>11} {'stmts':>5}")
    for r in rows:
        print(f"{r['loop']:>4} {r['state_bytes']:>11} {r['reject_ms']:>9.1f} {r['reject_statements']:>5} "
              f"{r['resubmit_ms']:>11.1f} {r['resubmit_statements']:>5}")
    first, last = rows[0], rows[-1]
    step = (last["reject_ms"] + last["resubmit_ms"]) / (first["reject_ms"] + first["resubmit_ms"])
    print(f"loop {last['loop']} vs loop 1: state {last['state_bytes'] / first['state_bytes']:.2f}x, "
          f"time per step {step:.2f}x (target <= 1.5x), statements "
          f"{(last['reject_statements'] + last['resubmit_statements'])}"
          f" vs {(first['reject_statements'] + first['resubmit_statements'])}")


if __name__ == "__main__":
    main()
