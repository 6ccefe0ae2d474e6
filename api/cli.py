"""``aicmp``: the platform's command line (database, designer tools, server, seed)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.config import Settings


def _json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"{what}: not valid JSON ({exc})") from exc


def _pairs(items: list[str], what: str) -> dict[str, Any]:
    out = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"{what} takes NAME=JSON, got {item!r}")
        out[name] = _json_arg(raw, f"{what} {name}")
    return out


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from engine import migrate
    from engine.db import Database

    settings = Settings()
    db = Database(settings.database_url)
    print(f"schema at {migrate.upgrade(db)} ({settings.database_url})")
    return 0


def cmd_bpmn_check(args: argparse.Namespace) -> int:
    import tasks  # noqa: F401 - registers built-in operators so unknown ones can be flagged
    from engine.designer import check
    from tasks.registry import REGISTRY

    settings = Settings()
    reports = [check(Path(p), max_bytes=settings.max_bpmn_bytes, known_operators=REGISTRY.names())
               for p in args.paths]
    if args.json:
        print(json.dumps([{
            "file": str(r.path), "ok": r.ok,
            "errors": [vars(f) for f in r.errors],
            "warnings": [vars(f) for f in r.validation.warnings],
            "processes": [p.key for p in r.validation.processes],
        } for r in reports], indent=2))
    else:
        for r in reports:
            print(f"{r.path}: {'OK' if r.ok else 'FAILED'}")
            for f in r.errors:
                print(f"  error: {f}")
            for f in r.validation.warnings:
                print(f"  warning: {f}")
    return 0 if all(r.ok for r in reports) else 1


def cmd_bpmn_simulate(args: argparse.Namespace) -> int:
    from engine.designer import simulate_file

    settings = Settings()
    data = _json_arg(args.data, "--data") if args.data else {}
    if not isinstance(data, dict):
        raise SystemExit("--data must be a JSON object")
    report, result = simulate_file(Path(args.file), max_bytes=settings.max_bpmn_bytes, process_id=args.process,
                                   data=data, task_data=_pairs(args.task, "--task"),
                                   stubs=_pairs(args.stub, "--stub"))
    if result is None:
        for f in report.errors:
            print(f"error: {f}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"process": result.process_id, "completed": result.completed, "path": result.path,
                          "stubbed": result.stubbed, "problem": result.problem}, indent=2, default=str))
    else:
        print(f"process: {result.process_id}")
        print("path: " + " -> ".join(result.path))
        for name in result.stubbed:
            print(f"stubbed: {name} answered {{}}")
        print("result: reached an end event" if result.completed else f"result: did not finish: {result.problem}")
    return 0 if result.completed else 1


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from engine import audit
    from engine.core import Engine

    engine = Engine()
    with engine.db.read() as s:
        result = audit.verify(s)
    if result.ok:
        print(f"audit log intact: {result.checked} rows verified")
        return 0
    print(f"audit log BROKEN at row {result.first_bad_id}: {result.reason} ({result.checked} rows before it verified)")
    return 1


def cmd_seed(args: argparse.Namespace) -> int:
    from engine.core import Engine
    from seed import seed

    report = seed(Engine(), demo_quota=True)
    print(f"tenants created: {', '.join(report.tenants_created) or 'none (already there)'}")
    print(f"built-in roles created: {', '.join(report.roles_created) or 'none (already there)'}")
    print(f"demo users created: {', '.join(report.users_created) or 'none (already there)'}")
    print(f"process definitions: {', '.join(report.definitions) or 'none'}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from api.server import serve

    return serve(host=args.host, port=args.port, workers=args.workers)


def cmd_worker(args: argparse.Namespace) -> int:
    from engine.worker.main import run_worker

    queues = [q.strip() for item in args.queues for q in item.split(",") if q.strip()]
    return run_worker(concurrency=args.concurrency, queues=queues, pool=args.pool, loglevel=args.loglevel)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aicmp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="migrate the schema at AICMP_DATABASE_URL to the latest version")
    up.set_defaults(func=cmd_db_upgrade)

    bpmn = sub.add_parser("bpmn", help="designer tools").add_subparsers(dest="bpmn_command", required=True)
    chk = bpmn.add_parser("check", help="validate BPMN/DMN files exactly as deploy would")
    chk.add_argument("paths", nargs="+", metavar="PATH")
    chk.add_argument("--json", action="store_true", help="machine-readable output")
    chk.set_defaults(func=cmd_bpmn_check)

    sim = bpmn.add_parser("simulate", help="run a process in memory and print the path it takes")
    sim.add_argument("file", metavar="FILE")
    sim.add_argument("--process", metavar="ID", help="process id (default: the first one nothing calls)")
    sim.add_argument("--data", metavar="JSON", help="start variables, a JSON object")
    sim.add_argument("--task", action="append", default=[], metavar="TASK_ID=JSON",
                     help="data to complete user task TASK_ID with (over its form defaults); repeatable")
    sim.add_argument("--stub", action="append", default=[], metavar="OPERATOR=JSON",
                     help="result for service tasks calling OPERATOR (others get {}); repeatable")
    sim.add_argument("--json", action="store_true", help="machine-readable output")
    sim.set_defaults(func=cmd_bpmn_simulate)

    aud = sub.add_parser("audit", help="the tamper-evident audit log").add_subparsers(dest="audit_command",
                                                                                      required=True)
    ver = aud.add_parser("verify", help="check every hash chain; exit 1 and name the first altered or removed row")
    ver.set_defaults(func=cmd_audit_verify)

    sd = sub.add_parser("seed", help="create built-in roles, demo tenants and users; deploy bpmn/ and forms/ "
                                      "(idempotent)")
    sd.set_defaults(func=cmd_seed)

    srv = sub.add_parser("serve", help="run the HTTP API (migrates and seeds an empty database first)")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8080)
    srv.add_argument("--workers", type=int, default=1, help="gunicorn worker processes")
    srv.set_defaults(func=cmd_serve)

    wk = sub.add_parser("worker", help="run jobs from AICMP_BROKER_URL (RabbitMQ) and the periodic sweeps")
    wk.add_argument("--concurrency", type=int, default=None, metavar="N",
                    help="jobs run at once (default: one per CPU)")
    wk.add_argument("--queues", action="append", default=[], metavar="NAME[,NAME]",
                    help="queues to consume (default: AICMP_JOB_QUEUE, aicmp.jobs); repeatable")
    wk.add_argument("--pool", default="prefork", choices=["prefork", "threads", "solo"],
                    help="how jobs run: child processes (default), threads, or one at a time in-process")
    wk.add_argument("--loglevel", default="INFO")
    wk.set_defaults(func=cmd_worker)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
