"""The engine, wired from settings: database, process registry and runtime in one object."""

from __future__ import annotations

import tasks  # noqa: F401 - importing registers the built-in operators
from engine import audit, migrate, private_files
from engine.config import Settings
from engine.db import Database
from engine.registry import Registry
from engine.runtime.instances import Runtime
from tasks.registry import REGISTRY, OperatorRegistry


class Engine:
    """What the API, the CLI and the workers talk to. ``upgrade`` migrates an empty or old schema."""

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
        self._install_modules()

    def _install_modules(self) -> None:
        """Each module hooks itself in; save hooks mirror every saved workflow into the tables
        that wake it (inbox, timers, message subscriptions, jobs), in this order."""
        from engine import messages, ports, timers
        from engine.authz import Authorizer
        from engine.inbox import Inbox
        from engine.jobs import install as install_jobs

        self.inbox = Inbox(self)
        timers.install(self)
        messages.install(self)
        self.jobs = install_jobs(self)
        self.authorizer = Authorizer(self.db)  # Casbin RBAC with domains
        ports.install(self)  # operators reach platform data through the step's own transaction

    def close(self) -> None:
        self.db.dispose()
