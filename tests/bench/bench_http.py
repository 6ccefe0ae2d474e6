"""HTTP benchmark: the application flow from login to order against a real ``aicmp serve``.

    python -m tests.bench.bench_http [--tenants 1000] [--clients 4] [--flows N] [--skip-postgres] [--profile]

For each backend (a SQLite file: WAL, synchronous=NORMAL; a throwaway PostgreSQL with fsync on) it
migrates and seeds a fresh database, preloads ``--tenants`` extra tenants (tests/bench/http_data.py),
starts ``python -m api.cli serve --workers 2`` and lets ``--clients`` threads, each with its own
keep-alive connection and its own tenants, log in once per user and then run application flows
(cart -> draft -> submit -> approver completes the inbox task -> operator decision -> the order) until
each has done ``--flows`` or ``--max-seconds`` have passed. The first ``--warmup`` flows of each client
are not timed (their errors count). It prints flows/s, p50/p99 per request type, login p50/p99
apart, every non-2xx or failed request by type, server log trouble (tracebacks, "database is
locked"), and whether the target (p99 <= 100 ms for every non-login request) is met.

``--profile`` then runs a short in-process cProfile of the same request mix through Flask's test
client on the same database and prints the top functions (tests/bench/http_profile.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.bench.http_client import Client, serve
from tests.bench.http_data import BenchTenant, prepare_database
from tests.bench.http_flow import LOGIN, REQUEST_TYPES, FlowFailed, Flows, Recorder, percentile

PASSWORD = "Bench-Passw0rd!"
OPERATOR = "operator"
TARGET_P99_MS = 100.0
UNTARGETED = {LOGIN: "argon2 standard, by design slow", "catalog": "once per client, before the warm-up"}


@dataclass
class RunResult:
    recorder: Recorder
    seconds: float  # wall time of the timed phase (all clients)
    attempted: int
    server_log: Path


def _client_tenants(bench: list[BenchTenant], clients: int, per_client: int) -> list[list[BenchTenant]]:
    """Disjoint tenant sets, spread over the whole range of preloaded tenants."""
    wanted = min(len(bench), clients * per_client)
    stride = max(1, len(bench) // wanted)
    active = bench[::stride][:wanted]
    return [active[c::clients] for c in range(clients)]


def _client(url: str, tenants: list[BenchTenant], args: argparse.Namespace, barrier: threading.Barrier,
            deadline: list[float], rec: Recorder, warm: Recorder, attempts: list[int]) -> None:
    http = Client(url)
    flows = Flows(http, rec, PASSWORD)
    try:
        try:
            for name in [OPERATOR, *(u for t in tenants for u in (t.user, t.approver))]:
                flows.login(name)
            usable = [t for t in tenants if t.user in flows.tokens and t.approver in flows.tokens]
            if usable and OPERATOR in flows.tokens:
                try:
                    flows.find_spec(usable[0].user)
                except FlowFailed:  # recorded; this client then runs no flows
                    usable = []
            if not flows.spec_id:
                usable = []
            # warm-up: the same flows untimed (connections, first-use caches in each server worker)
            flows.rec = warm
            for i in range(args.warmup if usable else 0):
                flows.flow(usable[i % len(usable)], OPERATOR)
            flows.rec = rec
        except BaseException:
            barrier.abort()  # the other clients stop waiting for this one
            raise
        barrier.wait()
        n = 0
        while usable and n < args.flows and time.perf_counter() < deadline[0]:
            flows.flow(usable[n % len(usable)], OPERATOR)
            n += 1
        attempts.append(n)
    except threading.BrokenBarrierError:
        rec.fail("client", "aborted", "another client failed before the timed phase")
    finally:
        http.close()


def run_backend(url: str, bench: list[BenchTenant], args: argparse.Namespace, log: Path) -> RunResult:
    groups = _client_tenants(bench, args.clients, args.tenants_per_client)
    recs = [Recorder() for _ in groups]
    warms = [Recorder(keep_latencies=False) for _ in groups]
    attempts: list[int] = []
    deadline = [float("inf")]
    started = [0.0]

    def begin() -> None:  # runs once, when every client has logged in and warmed up
        started[0] = time.perf_counter()
        deadline[0] = started[0] + args.max_seconds

    barrier = threading.Barrier(len(groups), action=begin)
    threads = [threading.Thread(target=_client, args=(url, g, args, barrier, deadline, r, w, attempts),
                                name=f"client-{i}", daemon=True)
               for i, (g, r, w) in enumerate(zip(groups, recs, warms, strict=True))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.max_seconds + 600)
    seconds = time.perf_counter() - started[0]
    total = Recorder()
    for r in recs:
        total.merge(r)
    for w in warms:  # warm-up failures count; their latencies were not kept
        total.errors.update(w.errors)
        for key, message in w.samples.items():
            total.samples.setdefault(key, message)
    if any(t.is_alive() for t in threads):
        total.fail("client", "hung", "a client thread did not finish (a request hangs?)")
    return RunResult(total, seconds, sum(attempts), log)


def _server_trouble(log: Path) -> dict[str, int]:
    text = log.read_text(errors="replace") if log.exists() else ""
    statuses = re.findall(r'" (\d{3}) ', text)  # gunicorn's access log: "... HTTP/1.1" 200 123 ...
    return {"tracebacks": text.count("Traceback"), "database is locked": text.count("database is locked"),
            "deadlock": text.lower().count("deadlock detected"),
            "5xx in access log": sum(1 for s in statuses if s.startswith("5")),
            "worker timeouts": text.count("WORKER TIMEOUT")}


def report(label: str, result: RunResult, args: argparse.Namespace) -> bool:
    rec = result.recorder
    rate = rec.flows / result.seconds if result.seconds > 0 else 0.0
    print(f"\n== {label}: {args.clients} clients, 2 server workers, {args.tenants} extra tenants ==")
    print(f"flows: {rec.flows} completed of {result.attempted} attempted in {result.seconds:.1f} s "
          f"-> {rate:.2f} flows/s ({rate * 7:.1f} flow requests/s)")
    print(f"{'request':<20} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    met = True
    for kind in (LOGIN, *REQUEST_TYPES):
        values = rec.latencies.get(kind, [])
        if not values:
            continue
        p99 = percentile(values, 99)
        flag = ""
        if kind in UNTARGETED:
            flag = f"  ({UNTARGETED[kind]}; not in the target)"
        elif p99 > TARGET_P99_MS:
            met, flag = False, "  > target"
        print(f"{kind:<20} {len(values):>6} {percentile(values, 50):>8.1f} {p99:>8.1f} {max(values):>8.1f}{flag}")
    flow_values = [v for k in REQUEST_TYPES if k != "catalog" for v in rec.latencies.get(k, [])]
    if flow_values:
        print(f"{'all flow requests':<20} {len(flow_values):>6} {percentile(flow_values, 50):>8.1f} "
              f"{percentile(flow_values, 99):>8.1f} {max(flow_values):>8.1f}")
    errors = sum(rec.errors.values())
    print(f"errors: {errors}" + ("" if errors else " (every request answered as expected)"))
    for (kind, what), count in sorted(rec.errors.items()):
        print(f"  {kind} -> {what}: {count}x   e.g. {rec.samples.get((kind, what), '')}")
    trouble = _server_trouble(result.server_log)
    kept = f"   ({result.server_log})" if args.workdir is not None else ""
    print("server log: " + ", ".join(f"{k} {v}" for k, v in trouble.items()) + kept)
    ok = met and errors == 0 and rec.flows > 0
    print(f"target p99 <= {TARGET_P99_MS:.0f} ms for non-login requests: {'MET' if met else 'MISSED'}"
          + ("" if errors == 0 else f" (and {errors} failed requests)"))
    return ok


def bench_backend(label: str, database_url: str, work: Path, args: argparse.Namespace) -> bool:
    var_dir = work / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    bench = prepare_database(database_url, var_dir, PASSWORD, args.tenants)
    print(f"\n{label}: migrated, seeded and preloaded {len(bench)} tenants in {time.perf_counter() - t0:.1f} s")
    jwt_secret = secrets.token_urlsafe(48)
    log = work / "server.log"
    with serve(database_url=database_url, var_dir=var_dir, password=PASSWORD, jwt_secret=jwt_secret,
               workers=args.workers, log=log) as url:
        result = run_backend(url, bench, args, log)
    ok = report(label, result, args)
    if args.profile:
        from tests.bench.http_profile import profile

        profile(database_url, var_dir, bench[-args.clients:], password=PASSWORD, jwt_secret=jwt_secret,
                flows=args.profile_flows, top=args.profile_top)
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, default=1000, help="extra tenants preloaded (default 1000)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    ap.add_argument("--flows", type=int, default=150, help="timed flows per client at most (default 150)")
    ap.add_argument("--max-seconds", type=float, default=90.0, help="wall-clock cap of the timed phase per backend")
    ap.add_argument("--warmup", type=int, default=2, help="untimed flows per client first (default 2)")
    ap.add_argument("--tenants-per-client", type=int, default=10,
                    help="tenants each client works in, two logins each (default 10)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--profile", action="store_true",
                    help="after each backend: cProfile the same request mix in-process (Flask test client)")
    ap.add_argument("--profile-flows", type=int, default=30)
    ap.add_argument("--profile-top", type=int, default=30)
    ap.add_argument("--workdir", type=Path, default=None,
                    help="keep databases and server logs here (default: a temporary directory, removed)")
    args = ap.parse_args(argv)
    if args.tenants < args.clients:
        ap.error("--tenants must be at least --clients (each client needs a tenant of its own)")

    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(the clients, the server and the database share them)")
    ok = True
    with contextlib.ExitStack() as stack:
        if args.workdir is not None:
            args.workdir.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix="bench-http-", dir=args.workdir))
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-http-")))
        if not args.skip_sqlite:
            ok &= bench_backend("SQLite (WAL, synchronous=NORMAL)", f"sqlite:///{work / 'sqlite' / 'aicmp.db'}",
                                work / "sqlite", args)
        if not args.skip_postgres:
            from tests import servers

            server = servers.start_postgres(work / "pg", fsync=True)
            try:
                servers.create_database(server.url, "bench_http")
                ok &= bench_backend("PostgreSQL (fsync on)", servers.database_url(server.url, "bench_http"),
                                    work / "postgres", args)
            finally:
                server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
