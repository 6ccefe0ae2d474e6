"""``aicmp serve``: gunicorn in front of the app, after migrating and seeding an empty database."""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication
from sqlalchemy import func, select

from engine import private_files
from engine.core import Engine, assemble
from engine.models import Tenant, User
from engine.periodic import PeriodicRunner, periodic_work


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from api import create_app

        return create_app()


def prepare() -> tuple[Engine, bool]:
    """Migrate, seed when the database holds no tenant yet (a fresh embedded install), else bring
    the built-in roles and product processes up to this version, and make every file under var/
    private (attachments from before files were kept private).
    Returns the engine (closed) and whether the demo password was generated (and printed) now."""
    engine = assemble()
    private_files.tighten_tree(engine.settings.var_dir, deep=True)
    generated = False
    with engine.db.read() as s:
        empty = not s.scalar(select(func.count()).select_from(Tenant))
    if empty:
        from seed import seed

        report = seed(engine, demo_quota=True, simulator=engine.settings.demo_cloud)
        generated = bool(report.generated_password and report.users_created)
        print(f"seeded demo data: tenants {', '.join(report.tenants_created)}; "
              f"processes {', '.join(report.definitions) or 'none'}")
    else:  # an upgraded install: this version's built-in roles and product processes
        from seed.demo import refresh_product

        refreshed = refresh_product(engine)
        if refreshed.definitions:
            print(f"deployed this version's product processes: {', '.join(refreshed.definitions)}")
    engine.close()
    return engine, generated


ALL_INTERFACES = ("0.0.0.0", "::", "")  # noqa: S104 - recognised, not bound here
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def banner(engine: Engine, *, host: str, port: int, workers: int, password_printed: bool = False) -> str:
    """What ``aicmp serve`` prints before it serves: where, the API docs, and the demo users that
    exist in this database with their roles (never a password)."""
    from seed.demo import DEMO_USERS

    shown = "127.0.0.1" if host in ALL_INTERFACES else host
    base = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}"
    if host in LOOPBACK:
        reach = "only this machine can connect; --host 0.0.0.0 lets others"
    elif host in ALL_INTERFACES:
        reach = "listening on every interface"
    else:
        reach = f"listening on {host}"
    lines = [f"aicmp API:  {base}/api/v1  ({workers} worker{'s' if workers != 1 else ''}; {reach})",
             f"API docs:   {base}/api/docs  (OpenAPI document: {base}/api/openapi.json)"]
    with engine.db.read() as s:
        present = set(s.scalars(select(User.username).where(User.username.in_([u.username for u in DEMO_USERS]))))
    demo = [u for u in DEMO_USERS if u.username in present]
    if demo:
        if os.environ.get("AICMP_DEMO_PASSWORD"):
            which = "the value of AICMP_DEMO_PASSWORD"
        elif password_printed:
            which = "printed above, shown once"
        else:
            which = "printed when they were created; not stored"
        lines.append(f"demo users (password: {which}):")
        width = max(len(u.username) for u in demo)
        for u in demo:
            where = f"tenant {u.tenant}" if u.tenant else "platform"
            lines.append(f"  {u.username:<{width}}  {', '.join(u.roles)} ({where})")
    return "\n".join(lines)


def _check_free(host: str, port: int) -> None:
    """Fail in one line, before migrating and seeding, when the address cannot be listened on."""
    import socket

    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _name, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
            probe.bind(address)
    except OSError as exc:
        raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror or exc} (--host, --port)") from None


def serve(*, host: str, port: int, workers: int) -> int:
    _check_free(host, port)
    engine, generated = prepare()
    start_periodic_work()
    print(banner(engine, host=host, port=port, workers=workers, password_printed=generated), flush=True)
    engine.close()
    _Gunicorn({"bind": f"{host}:{port}", "workers": max(1, workers), "threads": 4,
               "accesslog": "-", "timeout": 60}).run()
    return 0


# -- periodic work -------------------------------------------------------------------------------
# Without a broker no ``aicmp worker`` runs (it refuses to start), so the serving process runs the
# periodic work itself (due timers, job retries), from a daemon thread in the gunicorn master:
# started before the workers fork, it runs once. With a broker the workers do it.

def start_periodic_work() -> PeriodicRunner | None:
    engine = assemble(upgrade=False)  # prepare() migrated already
    if engine.settings.broker_url:
        engine.close()
        return None
    return PeriodicRunner(periodic_work(engine)).start()
