"""``bench_http --profile``: where a flow's time goes, measured in-process.

The server cannot be profiled from outside (api/server.py has no hook for it), so this drives the
same request mix (tests/bench/http_flow.py) through Flask's test client against the same database,
one client, no gunicorn and no sockets, under cProfile. Logins and two warm-up flows run first,
unprofiled. It prints the in-process latency per request type (what is left of the HTTP figures
once the network, gunicorn and the other clients are gone), the share of own time per package, and
the top functions by cumulative time.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.bench.http_client import Answer
from tests.bench.http_data import BenchTenant
from tests.bench.http_flow import REQUEST_TYPES, Flows, Recorder, percentile

OPERATOR = "operator"


class _SqlCounter:
    """SQL statements and commits on one engine, by statement shape and by request type."""

    VERB = re.compile(r"\s*(INSERT INTO|DELETE FROM|\w+)\s+\"?(\w+)", re.IGNORECASE)
    SELECTED = re.compile(r"\bFROM\s+\"?(\w+)", re.IGNORECASE)

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.statements = 0
        self.commits = 0
        self.shapes: Counter = Counter()
        self.by_kind: dict[str, list[tuple[int, int]]] = {}
        self.counting = False
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements += 1
        if self.counting:
            self.shapes[self.shape(statement)] += 1

    @classmethod
    def shape(cls, statement: str) -> str:
        """``SELECT users``, ``UPDATE quotas``: the verb and the (first) table."""
        m = cls.VERB.match(statement)
        if m is None:
            return statement[:40]
        verb = m.group(1).upper()
        if verb == "SELECT":
            table = cls.SELECTED.search(statement)
            return f"SELECT {table.group(1) if table else m.group(2)}"
        return f"{verb.split()[0]} {m.group(2)}"

    def _commit(self, _conn: Any) -> None:
        self.commits += 1


class _CountingFlows(Flows):
    """Flows that also note how many statements and commits each request made."""

    counter: _SqlCounter

    def _call(self, kind: str, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        before = (self.counter.statements, self.counter.commits)
        try:
            return super()._call(kind, method, path, expect, **kwargs)
        finally:
            if self.counter.counting:
                self.counter.by_kind.setdefault(kind, []).append(
                    (self.counter.statements - before[0], self.counter.commits - before[1]))


class _TestClientCaller:
    """The Flask test client behind the same ``call`` as the HTTP client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def call(self, method: str, path: str, *, json_body: Any = None, token: str | None = None) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        t0 = time.perf_counter()
        resp = self.client.open(path, method=method, json=json_body, headers=headers)
        ms = (time.perf_counter() - t0) * 1000
        body = resp.get_json(silent=True)
        return Answer(resp.status_code, body if body is not None else resp.get_data(as_text=True), ms)


def _bucket(filename: str, name: str) -> str:
    """Which package a profiled function belongs to."""
    if filename == "~":
        for driver in ("sqlite3", "psycopg", "argon2", "_hashlib", "select", "socket"):
            if driver in name:
                return f"C: {driver}"
        return "C: other built-ins"
    site = re.search(r"site-packages/([A-Za-z0-9_]+)", filename)
    if site:
        return site.group(1)
    own = re.search(r"/(engine|api|tasks|seed|tests)/", filename)
    if own:
        return f"aicmp {own.group(1)}/"
    return "python stdlib"


def _by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    totals: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = _bucket(filename, name)
        totals[key] = totals.get(key, 0.0) + tottime
    return sorted(totals.items(), key=lambda kv: -kv[1])


def profile(database_url: str, var_dir: Path, tenants: list[BenchTenant], *, password: str, jwt_secret: str,
            flows: int, top: int) -> None:
    os.environ["AICMP_JWT_SECRET"] = jwt_secret  # create_app reads it; tokens stay valid for the server too
    os.environ.setdefault("AICMP_ARGON2_PROFILE", "standard")
    from api import create_app
    from engine.config import Settings
    from engine.core import Engine

    eng = Engine(Settings(var_dir=var_dir, database_url=database_url), upgrade=False)
    try:
        caller = _TestClientCaller(create_app(engine=eng).test_client())
        warm = Recorder(keep_latencies=False)
        run = _CountingFlows(caller, warm, password)
        counter = run.counter = _SqlCounter(eng.db.engine)
        for name in [OPERATOR, *(u for t in tenants for u in (t.user, t.approver))]:
            run.login(name)
        run.find_spec(tenants[0].user)
        for t in tenants[:2]:
            run.flow(t, OPERATOR)
        rec = run.rec = Recorder()
        prof = cProfile.Profile()
        counter.counting = True
        t0 = time.perf_counter()
        prof.enable()
        for i in range(flows):
            run.flow(tenants[i % len(tenants)], OPERATOR)
        prof.disable()
        seconds = time.perf_counter() - t0
        counter.counting = False
    finally:
        eng.close()

    failed = sum(rec.errors.values()) + sum(warm.errors.values())
    print(f"\n-- profile ({eng.db.engine.dialect.name}, in-process, one client, cProfile on): {rec.flows} of "
          f"{flows} flows in {seconds:.1f} s -> {rec.flows / seconds:.2f} flows/s; failed requests: {failed}")
    for (kind, what), count in sorted((rec.errors + warm.errors).items()):
        print(f"  {kind} -> {what}: {count}x   e.g. {rec.samples.get((kind, what)) or warm.samples.get((kind, what))}")
    print("in-process, under the profiler, per request type: p50 ms / SQL statements / commits")
    for kind in REQUEST_TYPES:
        if rec.latencies.get(kind):
            counts = counter.by_kind.get(kind, [(0, 0)])
            statements, commits = (sum(c[i] for c in counts) / len(counts) for i in (0, 1))
            print(f"  {kind:<20} {percentile(rec.latencies[kind], 50):7.1f} ms {statements:6.1f} statements "
                  f"{commits:4.1f} commits")
    per_flow = max(1, rec.flows)
    print("statements per flow by shape: " + ", ".join(
        f"{shape} {n / per_flow:.1f}" for shape, n in counter.shapes.most_common(14)))
    stats = pstats.Stats(prof)
    total = sum(t for _k, t in _by_package(stats)) or 1.0
    print("own time by package: " + ", ".join(f"{k} {t / total:.0%}" for k, t in _by_package(stats)[:12]))
    root = str(Path(__file__).resolve().parents[2]) + "/"
    _print(stats, "cumulative", top, re.escape(root) + "(engine|api|tasks)/", "aicmp functions by cumulative time",
           root)
    _print(stats, "tottime", top, None, "all functions by own time", root)


def _print(stats: pstats.Stats, order: str, top: int, restrict: str | None, title: str, root: str) -> None:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats(order)
    if restrict:
        stats.print_stats(restrict, top)
    else:
        stats.print_stats(top)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    print(f"-- top {top} {title}")
    print("\n".join(line.replace(root, "").replace(".venv/lib/python3.11/site-packages/", "")
                    for line in lines[start:] if line.strip()))
