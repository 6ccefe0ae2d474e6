"""``aicmp``: the platform's command line (database, designer tools, server, seed).

A mistake of the user's (a missing file, bad JSON, an unknown process id, a database it cannot
reach, a bad setting) is one line on stderr and exit code 2; anything unexpected is a short
message that points at ``--debug``, which shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config import Settings


class UserError(Exception):
    """Something the user can fix: reported in one line, exit code 2."""


def _json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{what}: not valid JSON ({exc})") from exc


def _pairs(items: list[str], what: str) -> dict[str, Any]:
    out = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise UserError(f"{what} takes NAME=JSON, got {item!r}")
        out[name] = _json_arg(raw, f"{what} {name}")
    return out


def _late(items: list[str]) -> dict[str, str]:
    """``--late TASK_ID=DURATION`` pairs, each an ISO 8601 duration."""
    from engine.errors import InvalidInput
    from engine.simulate import check_late

    out = {}
    for item in items:
        task_id, sep, wait = item.partition("=")
        if not sep or not task_id:
            raise UserError(f"--late takes TASK_ID=DURATION, got {item!r}")
        out[task_id] = wait
    try:
        return check_late(out)
    except InvalidInput as exc:
        raise UserError(f"--{exc}") from None


def _input_file(name: str) -> Path:
    path = Path(name)
    if not path.exists():
        raise UserError(f"{name}: no such file")
    if not path.is_file():
        raise UserError(f"{name}: not a file")
    return path


def _progress() -> Callable[[str], None] | None:
    """Progress lines for a long command, on stderr, only when stdout is a terminal (never in
    scripts, pipes or CI logs)."""
    if not sys.stdout.isatty():
        return None
    return lambda message: print(f"... {message}", file=sys.stderr, flush=True)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from engine import migrate
    from engine.db import Database

    settings = Settings()
    db = Database(settings.database_url)
    print(f"schema at {migrate.upgrade(db, progress=_progress())} ({_safe_url(settings.database_url)})")
    return 0


def cmd_db_revision(args: argparse.Namespace) -> int:
    from engine import migrate
    from engine.core import model_metadata

    rev_id, after = migrate.write_next_revision(args.message, model_metadata())
    print(f"wrote revision {rev_id} (after {after}): read it and keep only the operations of your change; "
          "never edit an older revision")
    return 0


def cmd_bpmn_check(args: argparse.Namespace) -> int:
    import tasks  # noqa: F401 - registers built-in operators so unknown ones can be flagged
    from engine.designer import check
    from tasks.registry import REGISTRY

    settings = Settings()
    paths = [_input_file(p) for p in args.paths]
    reports = [check(p, max_bytes=settings.max_bpmn_bytes, known_operators=REGISTRY.names()) for p in paths]
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
    path = _input_file(args.file)
    data = _json_arg(args.data, "--data") if args.data else {}
    if not isinstance(data, dict):
        raise UserError("--data must be a JSON object")
    if args.max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    report, result = simulate_file(path, max_bytes=settings.max_bpmn_bytes, process_id=args.process,
                                   data=data, task_data=_pairs(args.task, "--task"),
                                   stubs=_pairs(args.stub, "--stub"), messages=_pairs(args.message, "--message"),
                                   late=_late(args.late), max_steps=args.max_steps)
    if result is None:
        if report.unknown_process:
            raise UserError(str(report.errors[-1]))
        for f in report.errors:
            print(f"error: {f}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"process": result.process_id, "completed": result.completed, "path": result.path,
                          "stubbed": result.stubbed, "problem": result.problem}, indent=2, default=str))
    else:
        print(f"process: {result.process_id}")
        print("path: " + _short_path(result.path))
        for name in result.stubbed:
            print(f"stubbed: {name} answered {{}}")
        print("result: reached an end event" if result.completed else f"result: did not finish: {result.problem}")
    return 0 if result.completed else 1


def _short_path(path: list[str], head: int = 40, tail: int = 20) -> str:
    """The path, with the middle of a very long one (a loop) left out (``--json`` has it all)."""
    if len(path) <= head + tail + 1:
        return " -> ".join(path)
    return " -> ".join([*path[:head], f"... {len(path) - head - tail} more ...", *path[-tail:]])


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from engine import audit
    from engine.core import assemble

    engine = assemble()
    settings = engine.settings
    if not settings.audit_key and not (settings.var_dir / "audit-key").exists() and audit.has_keyed_rows(engine.db):
        raise UserError(f"no audit key here: set AICMP_AUDIT_KEY as on the servers, or restore "
                        f"{settings.var_dir / 'audit-key'} (verifying with a new key would fail every row)")
    result = audit.verify_and_checkpoint(engine.db)
    for problem in result.problems:
        print(problem)
    legacy = f", {result.legacy} of them with the old unkeyed SHA-256" if result.legacy else ""
    held = (f"held against {result.checkpoints} checkpoints" + (f" (file {result.witness})" if result.witness else "")
            if result.checkpoints else "no checkpoints yet")
    ids = [cp.id for cp in result.written]
    written = f"; wrote checkpoint #{ids[0]}" + (f"..#{ids[-1]}" if len(ids) > 1 else "") if ids else ""
    if result.ok:
        print(f"audit log intact: {result.checked} rows in {result.chains} chains verified{legacy}, {held}{written}")
        return 0
    print(f"audit log BROKEN: {len(result.problems)} problem(s) above; {result.checked} rows verified{legacy}, "
          f"{held}{written}")
    return 1


def cmd_seed(args: argparse.Namespace) -> int:
    from engine.core import assemble
    from seed import seed

    progress = _progress()
    if progress:
        progress("opening the database (migrating its schema if it is old)")
    engine = assemble()
    report = seed(engine, demo_quota=True, progress=progress, simulator=engine.settings.demo_cloud)
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


def cmd_placement_solve(args: argparse.Namespace) -> int:
    from engine.domains.placement import service, text
    from engine.domains.placement.instance import InstanceError

    data = _json_arg(_input_file(args.instance).read_text(encoding="utf-8"), args.instance)
    weights = _json_arg(args.weights, "--weights") if args.weights else None
    capacity = _pairs(args.capacity, "--capacity")  # pool id -> what it has left
    try:
        if args.drain or capacity:
            result = service.what_if(data, objective=args.objective or "cost", drain=args.drain, capacity=capacity,
                                     weights_data=weights, time_limit_s=args.time_limit, solver=args.solver)
            print(json.dumps(result, indent=2) if args.json else text.what_if(result))
            return 0
        wanted = [args.objective, *(o for o in ("cost", "performance", "balance") if o != args.objective)] \
            if args.objective else None
        result = service.plans(data, wanted=wanted, weights_data=weights, time_limit_s=args.time_limit,
                               solver=args.solver)
    except InstanceError as exc:
        raise UserError("; ".join(f"{e['field'] or 'instance'}: {e['message']}" for e in exc.errors[:5])) from exc
    if args.objective:
        result = {"plans": result["plans"][:1]}
    print(json.dumps(result["plans"][0] if args.objective else result, indent=2) if args.json else text.plans(result))
    return 0


def cmd_usage_consume(args: argparse.Namespace) -> int:
    from engine.core import assemble
    from engine.domains.billing.consumer import UsageConsumer

    engine = assemble()
    if not engine.settings.broker_url:
        print("aicmp: AICMP_BROKER_URL is not set", file=sys.stderr)
        return 2
    UsageConsumer(engine, engine.settings.broker_url, queue=args.queue).run()
    return 0


MAX_STEPS = 10_000  # engine.simulate.MAX_STEPS (not imported here: it pulls in SpiffWorkflow)
DEBUG_HELP = "show the traceback of an unexpected error"


class _Parser(argparse.ArgumentParser):
    """Every (sub)command also takes --debug, before or after its own arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # SUPPRESS: a subcommand without --debug leaves the top-level value alone
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aicmp", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="migrate the schema at AICMP_DATABASE_URL to the latest version")
    up.set_defaults(func=cmd_db_upgrade)
    rev = db.add_parser("revision", help="developers: write the next migration, autogenerated from the models "
                                         "(revisions are append-only)")
    rev.add_argument("message", help="what the revision changes, e.g. 'audit checkpoints'")
    rev.set_defaults(func=cmd_db_revision)

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
    sim.add_argument("--message", action="append", default=[], metavar="NAME=JSON",
                     help="payload a waiting message or signal NAME is answered with (others get {}); repeatable")
    sim.add_argument("--late", action="append", default=[], metavar="TASK_ID=DURATION",
                     help="answer user task TASK_ID only after an ISO 8601 duration (e.g. PT48H), so the timers "
                          "drawn to fire meanwhile (escalations, deadlines) fire first; repeatable")
    sim.add_argument("--max-steps", type=int, default=MAX_STEPS, metavar="N",
                     help=f"stop after N tasks run, reporting a loop (default: {MAX_STEPS})")
    sim.add_argument("--json", action="store_true", help="machine-readable output")
    sim.set_defaults(func=cmd_bpmn_simulate)

    aud = sub.add_parser("audit", help="the tamper-evident audit log").add_subparsers(dest="audit_command",
                                                                                      required=True)
    ver = aud.add_parser("verify", help="check every chain (HMAC) against its signed checkpoints, then write new "
                                        "checkpoints; exit 1 with one line per problem")
    ver.set_defaults(func=cmd_audit_verify)

    sd = sub.add_parser("seed", help="create built-in roles, demo tenants and users; deploy bpmn/ and forms/ "
                                      "(idempotent)")
    sd.set_defaults(func=cmd_seed)

    srv = sub.add_parser("serve", help="run the HTTP API (migrates and seeds an empty database first)")
    srv.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every interface)")
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

    pl = sub.add_parser("placement", help="placement plans").add_subparsers(dest="placement_command", required=True)
    pls = pl.add_parser("solve", help="cost-, performance- and balance-first plans for an instance (requests and "
                                      "pools, JSON), explained")
    pls.add_argument("instance", metavar="INSTANCE.json")
    pls.add_argument("--objective", choices=["cost", "performance", "balance", "custom"],
                     help="print this plan only (the others are still solved for its runner-up); default: "
                          "all three, and custom when --weights is given")
    pls.add_argument("--weights", metavar="JSON", help='custom weights, e.g. {"cost": 2, "performance": 1, '
                                                       '"balance": 1}')
    pls.add_argument("--time-limit", type=float, default=None, metavar="S",
                     help="seconds for all plans together (default 10)")
    pls.add_argument("--solver", choices=["auto", "highs", "cbc"], default="auto",
                     help="auto: HiGHS, CBC when HiGHS is missing or fails")
    pls.add_argument("--drain", action="append", default=[], metavar="POOL",
                     help="what-if: POOL takes nothing new; repeatable")
    pls.add_argument("--capacity", action="append", default=[], metavar="POOL=JSON",
                     help='what-if: what POOL has left, e.g. gpu-a=\'{"gpu": {"H100": 10}}\'; repeatable')
    pls.add_argument("--json", action="store_true", help="machine-readable output")
    pls.set_defaults(func=cmd_placement_solve)

    use = sub.add_parser("usage", help="metering").add_subparsers(dest="usage_command", required=True)
    con = use.add_parser("consume", help="store usage events from AICMP_BROKER_URL's durable queue (CloudEvents)")
    con.add_argument("--queue", default="aicmp.usage")
    con.set_defaults(func=cmd_usage_consume)
    return parser


def _safe_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparseable URL is shown as "(unparseable URL)"
        return "(unparseable URL)"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _user_error(exc: BaseException) -> str | None:
    """The one line for an error the user can fix, or None for an unexpected one."""
    from sqlalchemy import exc as sa_exc

    from engine.errors import EngineError

    if isinstance(exc, EngineError):  # e.g. AICMP_DEMO_PASSWORD breaks the password policy
        return exc.message
    if isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError | PermissionError):
        return f"{exc.filename}: {exc.strerror.lower() if exc.strerror else exc}"
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        url = _safe_url(os.environ.get("AICMP_DATABASE_URL") or Settings().database_url)
        return f"cannot use the database {url}: {_first_line(exc)}"
    if isinstance(exc, sa_exc.ArgumentError | sa_exc.NoSuchModuleError):
        return f"AICMP_DATABASE_URL: {_first_line(exc)}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        try:
            Settings()  # a bad AICMP_* setting is the user's to fix: say so before anything runs
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        return args.func(args)
    except KeyboardInterrupt:
        print("aicmp: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:
        if isinstance(exc.code, str):  # raise SystemExit("message") deeper down: a user error
            print(f"aicmp: error: {exc.code}", file=sys.stderr)
            return 2
        raise
    except UserError as exc:
        print(f"aicmp: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if debug:
            raise
        line = _user_error(exc)
        if line is not None:
            print(f"aicmp: error: {line}", file=sys.stderr)
            return 2
        print(f"aicmp: unexpected error: {type(exc).__name__}: {_first_line(exc)}\n"
              f"(run the same command with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
