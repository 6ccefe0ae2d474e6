"""The engine's side of ``tasks.ports``: platform ports bound to every write transaction.

Operators that need platform data call ``tasks.ports.current()``. ``install`` makes that work for
one database and its port registry: whenever one of its write transactions begins (``Database.write()``: the runtime's
start and mutations, timers, jobs, message delivery), a ``PlatformPorts`` for that transaction's
connection is bound in the current context, and unbound when it commits or rolls back. Each port
call runs in a SAVEPOINT on that same connection, so what an operator does through a port commits
together with the process step that called it, and a port call that fails leaves nothing behind.

Which ports there are is not known here: the core notices and the installed domains register a
factory per port name (``PortRegistry.register``: the kernel's ``ports``) when they are installed. A
port is built on first use in a transaction (``ports.applications`` builds the applications port
of that transaction), so a transaction that calls no operator builds none. A port serves the
service tasks of one process instance (``instance_scope``: its tenant, its business key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from weakref import WeakSet

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from engine.db import WRITE, Database
from engine.runtime.services import InstanceScope, current_scope
from tasks import ports as task_ports
from tasks.ports import Refused

_INFO_KEY = "aicmp_ports"
_installed: WeakSet[Any] = WeakSet()

PortFactory = Callable[["PlatformPorts"], Any]
_RESERVED = frozenset({"registry", "db", "connection", "refusals", "session"})  # PlatformPorts' own names


class PortRegistry:
    """The port factories of one engine by port name (``tasks.ports.Ports`` names them), filled
    by whatever is installed: the core notices register ``messages``, the domains theirs."""

    def __init__(self) -> None:
        self._factories: dict[str, PortFactory] = {}

    def register(self, name: str, factory: PortFactory) -> None:
        """``factory(ports)`` builds the port ``name`` for one transaction's ``PlatformPorts``."""
        if not name or name.startswith("_") or name in _RESERVED:
            raise ValueError(f"{name!r} cannot name a port")
        known = self._factories.get(name)
        if known is not None and known is not factory:
            raise ValueError(f"port {name!r} is registered already")
        self._factories[name] = factory

    def factory(self, name: str) -> PortFactory | None:
        return self._factories.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._factories)


class PlatformPorts:
    """The ports of one write transaction (``tasks.ports.Ports``): each built on first access from
    the engine's ``PortRegistry`` and kept for the rest of the transaction."""

    def __init__(self, registry: PortRegistry, db: Database, connection: Connection) -> None:
        self.registry = registry
        self.db = db
        self.connection = connection
        self.refusals: list[dict[str, Any]] = []  # what a port refused in this transaction (see strict modes)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        factory = self.registry.factory(name)
        if factory is None:
            raise AttributeError(f"no port {name!r} is installed")
        port = factory(self)
        self.__dict__[name] = port  # built once per transaction
        return port

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session inside a SAVEPOINT of this transaction: released on success, rolled back on error."""
        with Session(bind=self.connection, join_transaction_mode="create_savepoint",
                     expire_on_commit=False, info=self.db.info) as s, s.begin():
            yield s


def _begin(registry: PortRegistry, db: Database, conn: Connection) -> None:
    if not conn.get_execution_options().get(WRITE):
        return
    stale = conn.info.pop(_INFO_KEY, None)
    if stale is not None:
        task_ports.pop(stale)
    ports = PlatformPorts(registry, db, conn)
    conn.info[_INFO_KEY] = ports
    task_ports.push(ports)


def _end(conn: Connection) -> None:
    ports = conn.info.pop(_INFO_KEY, None)
    if ports is not None:
        task_ports.pop(ports)


def bound_ports() -> PlatformPorts | None:
    """The platform ports of the write transaction running in this context, if any."""
    try:
        found = task_ports.current()
    except task_ports.PortUnavailable:
        return None
    return found if isinstance(found, PlatformPorts) else None


def install(db: Database, registry: PortRegistry) -> None:
    """Bind platform ports to ``db``'s write transactions, built from ``registry`` (the kernel's
    ``ports``, filled by what is installed). Idempotent."""
    if db in _installed:
        return
    event.listen(db.engine, "begin", lambda conn: _begin(registry, db, conn))
    event.listen(db.engine, "commit", _end)
    event.listen(db.engine, "rollback", _end)
    _installed.add(db)


# -- what every port implementation shares ------------------------------------------------------

def instance_scope() -> InstanceScope:
    """The instance calling a port; ports serve service tasks of an instance only."""
    scope = current_scope()
    if scope is None:
        raise Refused("NO_INSTANCE", "platform ports serve the service tasks of a process instance only")
    return scope


class Port:
    """Base of a port implementation: built for one transaction's ``PlatformPorts``."""

    def __init__(self, ports: PlatformPorts) -> None:
        self._ports = ports
