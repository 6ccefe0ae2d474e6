"""``aicmp serve``: gunicorn in front of the app, after migrating and seeding an empty database."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication
from sqlalchemy import func, select

from engine.core import Engine
from engine.models import Tenant
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


def prepare() -> Engine:
    """Migrate, and seed when the database holds no tenant yet (a fresh embedded install)."""
    engine = Engine()
    with engine.db.read() as s:
        empty = not s.scalar(select(func.count()).select_from(Tenant))
    if empty:
        from seed import seed

        report = seed(engine, demo_quota=True)
        print(f"seeded demo data: tenants {', '.join(report.tenants_created)}; "
              f"processes {', '.join(report.definitions) or 'none'}")
    engine.close()
    return engine


def serve(*, host: str, port: int, workers: int) -> int:
    prepare()
    start_periodic_work()
    print(f"aicmp API on http://{host}:{port}/api/docs ({workers} worker(s))")
    _Gunicorn({"bind": f"{host}:{port}", "workers": max(1, workers), "threads": 4,
               "accesslog": "-", "timeout": 60}).run()
    return 0


# -- periodic work -------------------------------------------------------------------------------
# Without a broker no ``aicmp worker`` runs (it refuses to start), so the serving process runs the
# periodic work itself (due timers, job retries), from a daemon thread in the gunicorn master:
# started before the workers fork, it runs once. With a broker the workers do it.

def start_periodic_work() -> PeriodicRunner | None:
    engine = Engine(upgrade=False)  # prepare() migrated already
    if engine.settings.broker_url:
        engine.close()
        return None
    return PeriodicRunner(periodic_work(engine)).start()
