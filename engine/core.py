"""The engine, wired from settings: database, process registry and runtime in one object.

``assemble`` is how the API, the CLI and the worker build one: the kernel (``engine.kernel``),
the core modules (inbox, timers, messages, jobs, authorizer, platform ports, site-message
notices), then the installed domains (``engine.domains.INSTALLED``), which the core finds by name
only and never imports.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import MetaData

from engine.config import Settings
from engine.domains import INSTALLED, load_models
from engine.domains import install as install_domains
from engine.kernel import Kernel
from tasks.registry import REGISTRY, OperatorRegistry


class Engine(Kernel):
    """What the API, the CLI and the workers talk to. ``upgrade`` migrates an empty or old schema;
    ``domains`` names the domains to install (``engine.domains.INSTALLED`` when left out)."""

    def __init__(self, settings: Settings | None = None, *, operators: OperatorRegistry = REGISTRY,
                 upgrade: bool = True, domains: Iterable[str] | None = None) -> None:
        self.domains = tuple(INSTALLED if domains is None else domains)
        load_models(self.domains)  # every installed domain's tables on Base.metadata
        super().__init__(settings, operators=operators, upgrade=upgrade)
        self._install_modules()
        install_domains(self, self.domains)  # each registers its ports and hooks

    def _install_modules(self) -> None:
        """Each core module hooks itself in; save hooks mirror every saved workflow into the tables
        that wake it (inbox, timers, message subscriptions, jobs), in this order."""
        from engine import messages, ports, site_messages, timers
        from engine.authz import Authorizer
        from engine.inbox import Inbox
        from engine.worker.celery_app import install as install_jobs

        self.inbox = Inbox(self)
        timers.install(self)
        messages.install(self)
        self.jobs = install_jobs(self)
        self.authorizer = Authorizer(self.db)  # Casbin RBAC with domains
        ports.install(self.db, self.ports)  # operators reach platform data through the step's own transaction
        self.notices = site_messages.install(self)  # "task assigned" notices and the messages port


def model_metadata() -> MetaData:
    """Every table: the core's and each installed domain's (what migrations are compared against)."""
    from engine.models import Base

    load_models(INSTALLED)
    return Base.metadata


def assemble(settings: Settings | None = None, *, upgrade: bool = True,
             operators: OperatorRegistry = REGISTRY) -> Engine:
    """The Engine with its core wired and every installed domain installed: what the API, the CLI
    and the worker run."""
    return Engine(settings, operators=operators, upgrade=upgrade, domains=INSTALLED)
