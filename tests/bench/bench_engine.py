"""Engine benchmark: persisted aicmp flows against plain SpiffWorkflow, in the same run.

    python -m tests.bench.bench_engine [--instances N] [--inbox-tasks N] [--skip-postgres]

Prints instances/s for plain SpiffWorkflow (spec parsed once, default script engine, no
serialization) and for aicmp persisted on SQLite (WAL, synchronous=NORMAL) and on PostgreSQL
(fsync on), each as a ratio of plain; deploy time; and the inbox query (page 1 of "todo" for one
tenant user with N open tasks over 1,000 tenants) against a primary-key fetch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

BPMN = Path(__file__).with_name("bench_approval.bpmn")
USER_TASKS = ("submit", "approve", "fulfil")
COMPLETION = {"submit": {"purpose": "training"}, "approve": {"decision": "approve"}, "fulfil": {"done": True}}


class _PlainEngine(PythonScriptEngine):
    """SpiffWorkflow's default engine; 3.2.0 needs call_service overridden to answer at all."""

    def call_service(self, task: Any, operation_name: str, operation_params: dict) -> str:
        return json.dumps({"ok": True})


def plain_rate(n: int) -> float:
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(BPMN))
    spec = parser.get_spec("bench_approval")
    engine = _PlainEngine()
    started = time.perf_counter()
    for _ in range(n):
        wf = BpmnWorkflow(spec, script_engine=engine)
        wf.do_engine_steps()
        while not wf.is_completed():
            task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update(COMPLETION[task.task_spec.bpmn_id])
            task.run()
            wf.do_engine_steps()
    return n / (time.perf_counter() - started)


def _bench_engine(url: str, tmp: Path) -> Any:
    from engine.config import Settings
    from engine.core import Engine
    from engine.models import Tenant
    from tasks.registry import OperatorRegistry

    ops = OperatorRegistry()
    ops.operator("bench/quota")(lambda requested: {"ok": requested < 100})
    ops.operator("bench/notify")(lambda who: {"sent": who})
    eng = Engine(Settings(var_dir=tmp, database_url=url), operators=ops)
    with eng.db.write() as s:
        s.add(Tenant(id="t-bench", code="bench", name="Bench"))
    return eng


LANE_OF = {"submit": "tenant_user", "approve": "approver", "fulfil": "platform_operator"}
USERS = {"tenant_user": "alice", "approver": "bob", "platform_operator": "carol"}


def persisted_rate(eng: Any, n: int) -> float:
    """Start each instance, then let each lane's user find its task in the inbox and complete it."""
    started = time.perf_counter()
    for i in range(n):
        eng.runtime.start("bench_approval", tenant_id="t-bench", initiator="alice", business_key=f"B-{i}")
        for spec in USER_TASKS:
            role = LANE_OF[spec]
            [task] = eng.inbox.list_tasks("t-bench", USERS[role], [role], page_size=1).items
            eng.inbox.complete("t-bench", task.id, user=USERS[role], data=COMPLETION[task.task_spec], roles=[role])
    return n / (time.perf_counter() - started)


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def deploy_ms(eng: Any, repeat: int = 20) -> float:
    data = BPMN.read_bytes()

    def one(i: list[int] = [0]) -> None:  # noqa: B006 - a counter that makes each deploy new
        i[0] += 1
        eng.registry.deploy({"bench.bpmn": data.replace(b"Benchmark approval", f"Bench {i[0]}".encode())})

    return statistics.median(timed(one, repeat))


def report_engine(label: str, eng: Any, n: int, plain: float) -> None:
    eng.registry.deploy({"bench.bpmn": BPMN.read_bytes()})
    persisted_rate(eng, max(3, n // 10))  # warm caches
    rate = persisted_rate(eng, n)
    print(f"{label:<28} {rate:8.1f} instances/s   ratio to plain {rate / plain:6.3f}   "
          f"(target >= 0.333)")
    print(f"{label + ' deploy':<28} {deploy_ms(eng):8.2f} ms median (validate + parse + store)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--inbox-tasks", type=int, default=100_000)
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args(argv)

    plain_rate(20)
    plain = plain_rate(args.instances)
    print(f"{'plain SpiffWorkflow':<28} {plain:8.1f} instances/s   (baseline, in memory)")
    with tempfile.TemporaryDirectory() as tmp:
        eng = _bench_engine(f"sqlite:///{tmp}/bench.db", Path(tmp))
        report_engine("aicmp SQLite", eng, args.instances, plain)
        eng.close()
        if not args.skip_postgres:
            from tests import servers

            server = servers.start_postgres(Path(tmp) / "pg", fsync=True)
            try:
                servers.create_database(server.url, "bench")
                url = servers.database_url(server.url, "bench")
                eng = _bench_engine(url, Path(tmp))
                report_engine("aicmp PostgreSQL (fsync)", eng, args.instances, plain)
                from tests.bench.bench_inbox import report_inbox

                report_inbox(eng, args.inbox_tasks)
                eng.close()
            finally:
                server.stop()


if __name__ == "__main__":
    main()
