"""The engine, wired from settings: database, process registry and runtime in one object."""

from __future__ import annotations

import tasks  # noqa: F401 - importing registers the built-in operators
from engine import migrate
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
        self.operators = operators
        self.db = Database(self.settings.database_url)
        if upgrade:
            migrate.upgrade(self.db)
        self.registry = Registry(self.db, max_bytes=self.settings.max_bpmn_bytes,
                                 known_operators=operators.names)
        self.runtime = Runtime(self.db, operators=operators, async_enabled=True)
        # Save hooks mirror each saved workflow into the tables that wake it; one line per module:
        from engine.inbox import Inbox

        self.inbox = Inbox(self)  # inbox-hook: keeps human_tasks in step with every save
        from engine import timers  # timers-hook: due_timers mirror the waiting timers
        timers.install(self)
        from engine import messages  # messages-hook: message_subscriptions mirror the waiting catches
        messages.install(self)
        from engine.jobs import install as install_jobs  # jobs-hook: async operators, Celery
        self.jobs = install_jobs(self)
        # authorizer: set by engine.authz (Casbin RBAC with domains)
        from engine.authz import Authorizer

        self.authorizer = Authorizer(self.db)

    def close(self) -> None:
        self.db.dispose()
