"""The engine's kernel: settings, database, process registry, runtime and port registry.

What every core module is handed when it installs itself (``install(kernel)``) and what it works
with afterwards. ``engine.core.Engine`` is a kernel with the core modules and the installed
domains wired in; the core modules know only this, so none of them imports what assembles them.
"""

from __future__ import annotations

import tasks  # noqa: F401 - importing registers the built-in operators
from engine import audit, migrate, private_files
from engine.config import Settings
from engine.db import Database
from engine.ports import PortRegistry
from engine.registry import Registry
from engine.runtime.instances import Runtime
from tasks.registry import REGISTRY, OperatorRegistry


class Kernel:
    """Settings, database (``upgrade`` migrates an empty or old schema), process registry, runtime,
    and the port factories (``ports``) that what is installed registers."""

    def __init__(self, settings: Settings | None = None, *, operators: OperatorRegistry = REGISTRY,
                 upgrade: bool = True) -> None:
        self.settings = settings or Settings()
        private_files.tighten_tree(self.settings.var_dir, deep=False)  # var/ and its top: ours alone
        self.operators = operators
        self.db = Database(self.settings.database_url)
        audit.install(self.db, self.settings)  # the audit key, read (or generated) on first use
        if upgrade:
            migrate.upgrade(self.db)
        self.registry = Registry(self.db, max_bytes=self.settings.max_bpmn_bytes,
                                 known_operators=operators.names)
        self.runtime = Runtime(self.db, operators=operators, async_enabled=True)
        self.ports = PortRegistry()  # port factories by name, filled by what is installed
        self.periodic: list = []  # engine.periodic.Periodic entries what is installed adds to periodic_work

    def close(self) -> None:
        self.db.dispose()
