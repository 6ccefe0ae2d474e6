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

An asynchronous operator (a job: ``engine.jobs``) runs outside any transaction: it must not hold
the step's transaction and instance lock while it waits minutes on a cloud. Its ports are a
``StandalonePorts``, built from the same registry, so every domain port works unchanged: each port
call opens its own short write transaction (committed when the call returns, rolled back if it
raises) and runs in it exactly as it would in a step, through that transaction's ``PlatformPorts``.
A job's port calls therefore commit one by one and a retried job repeats them: such an operator
must be idempotent, which jobs require anyway (delivery is at least once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from itertools import groupby
from typing import Any
from weakref import WeakKeyDictionary, WeakSet

from sqlalchemy import Table, event, insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from engine.audit import chain as audit_chain
from engine.db import DEFERRED_INSERTS, WRITE, Database
from engine.models import AuditEntry
from engine.runtime.services import InstanceScope, current_scope
from tasks import ports as task_ports
from tasks.ports import Refused

log = logging.getLogger("aicmp.ports")

# each write transaction's PlatformPorts, by its Connection: kept on the Connection object, not in
# its ``info`` (which a connection broken mid-transaction can no longer reach), so the ports are
# unbound when that transaction ends however it ends
_BOUND: WeakKeyDictionary[Connection, PlatformPorts] = WeakKeyDictionary()
_installed: WeakSet[Any] = WeakSet()

PortFactory = Callable[["PortSet"], Any]
# the own names of PlatformPorts and StandalonePorts
_RESERVED = frozenset({"registry", "db", "connection", "refusals", "broken", "session", "reading", "close"})


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


class PortSet:
    """What ``tasks.ports.current()`` hands an operator: each port built on first access from the
    engine's ``PortRegistry`` and kept. A port opens ``session()`` for a call that changes rows and
    ``reading()`` for one that only reads; the subclasses say which transaction those run in."""

    def __init__(self, registry: PortRegistry, db: Database) -> None:
        self.registry = registry
        self.db = db
        self.refusals: list[dict[str, Any]] = []  # what a port refused (see strict modes)
        self.broken: BaseException | None = None  # a port's write failed outside a SAVEPOINT: no commit

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        factory = self.registry.factory(name)
        if factory is None:
            raise AttributeError(f"no port {name!r} is installed")
        port = factory(self)
        self.__dict__[name] = port  # built once per port set
        return port

    def session(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

    def reading(self) -> AbstractContextManager[Session]:
        raise NotImplementedError


class PlatformPorts(PortSet):
    """The ports of one write transaction (``tasks.ports.Ports``): each built on first access from
    the engine's ``PortRegistry`` and kept for the rest of the transaction."""

    def __init__(self, registry: PortRegistry, db: Database, connection: Connection) -> None:
        super().__init__(registry, db)
        self.connection = connection

    def _shared(self) -> Session:
        """The one session every port call of this transaction uses, on its connection: what one
        call loaded (an application, its items) is in the identity map for the next call."""
        found = self.__dict__.get("_session")
        if found is None:
            found = Session(bind=self.connection, join_transaction_mode="rollback_only", expire_on_commit=False,
                            info=self.db.info)
            event.listen(found, "before_flush", _before_flush)
            event.listen(found, "do_orm_execute", _do_orm_execute)
            self.__dict__["_session"] = found
        return found

    @contextmanager
    def session(self) -> Iterator[Session]:
        """For a call that changes rows. What it changes through the ORM stays pending (no
        autoflush) and is flushed when it returns; a call that fails before that leaves nothing
        behind. A SAVEPOINT is opened only when the call itself sends a write before returning (an
        explicit flush, a Core INSERT/UPDATE/DELETE), so that a failure after it rolls back to it."""
        s = self._shared()
        if s.info.get(_CALL) is not None:  # a port used from inside another port's call: part of that call
            yield s
            return
        call = _Call(self.connection, set(s.info.get(LOCKED_ROWS, {})))
        s.info[_CALL], s.info[DEFERRED_INSERTS] = call, call.deferred
        try:
            try:
                with s.no_autoflush:
                    yield s
            except BaseException as exc:
                if call.unguarded:  # its last write went out with nothing to roll back to
                    self.broken = exc
                self._undo(call, s, exc)
                raise
            call.finishing = True
            try:
                s.flush()
                call.write_deferred(s)
            except BaseException as exc:
                if call.savepoint is None:  # a write failed with nothing to roll back to
                    self.broken = exc
                self._undo(call, s, exc)
                raise
            call.release()
        finally:
            s.info.pop(_CALL, None)
            s.info.pop(DEFERRED_INSERTS, None)

    def _undo(self, call: _Call, s: Session, failure: BaseException) -> None:
        """Undo a failed call without hiding why it failed. When the undo fails too (the
        connection broke under the call: a lost server, a worker told to stop in mid-statement) the
        transaction is poisoned, so it cannot commit, and ``failure`` goes on unwinding: a
        ``SystemExit`` must stay one, not turn into a database error an operator reports."""
        try:
            call.undo(s)
        except Exception as undo_failed:  # noqa: BLE001 - the caller re-raises ``failure``
            log.warning("a failed port call could not be undone (%s: %s); its transaction will not commit",
                        type(undo_failed).__name__, undo_failed)
            if self.broken is None:
                self.broken = failure

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """For a call that only reads: the shared session, no SAVEPOINT round trips."""
        s = self._shared()
        yield s
        if s.new or s.dirty or s.deleted:
            raise RuntimeError("a port call opened for reading changed rows: use PlatformPorts.session()")

    def close(self) -> None:
        found = self.__dict__.pop("_session", None)
        if found is not None:
            found.close()


class StandalonePorts(PortSet):
    """The ports of code that runs outside any write transaction: an asynchronous operator in a job
    (``engine.jobs``), which must not hold a transaction while it waits on a cloud. Each changing
    port call is its own short write transaction, run through that transaction's ``PlatformPorts``
    (the same SAVEPOINT and deferred-insert rules as in a step): committed when the call returns,
    rolled back if it raises. A reading call opens a read session. Bind it together with the
    instance's scope (``engine.runtime.services.running_for``): the ports serve that instance only."""

    def __init__(self, registry: PortRegistry, db: Database) -> None:
        super().__init__(registry, db)
        self._call: PlatformPorts | None = None  # the transaction of the port call running now

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A call made while another is running (a port that calls a port) joins its transaction."""
        if self._call is not None:
            with self._call.session() as s:
                yield s
            return
        with self.db.write() as tx:
            conn = tx.connection()  # BEGIN: install() bound this transaction's PlatformPorts
            ports = _BOUND.get(conn)
            own = ports is None  # a database without install(): bind them here, for this call
            if own:
                ports = PlatformPorts(self.registry, self.db, conn)
                task_ports.push(ports)
            self._call = ports
            try:
                with ports.session() as s:
                    yield s
            finally:
                self._call = None
                if own:
                    task_ports.pop(ports)
                    ports.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read session of its own (or the running call's, for a port that calls a port)."""
        if self._call is not None:
            with self._call.reading() as s:
                yield s
            return
        with self.db.read() as s:
            yield s
            if s.new or s.dirty or s.deleted:
                raise RuntimeError("a port call opened for reading changed rows: use session()")


LOCKED_ROWS = "aicmp_locked_rows"  # session.info key: rows a port locked in this transaction, by key
# execution option of a port call's write after which the call does nothing that fails but reads and
# deferred inserts: no SAVEPOINT (two round trips) guards it; should anything fail after it after
# all, or the write itself, the step fails whole (the transaction cannot commit)
LAST_WRITE = "aicmp_last_write"


class _Call:
    """One changing port call: the SAVEPOINT it may need, and what to undo when it fails."""

    def __init__(self, connection: Connection, locked_before: set[Any]) -> None:
        self.connection = connection
        self.locked_before = locked_before
        self.savepoint: Any = None
        self.finishing = False
        self.unguarded = False  # sent a LAST_WRITE with no SAVEPOINT: a failure after it fails the step
        self.deferred: list[tuple[Table, dict[str, Any]]] = []  # DEFERRED_INSERTS (audit entries)

    def write_deferred(self, s: Session) -> None:
        """The call succeeded: its deferred inserts, in order, one executemany per run of a table;
        its audit entries join the transaction's (``audit_chain.append_later``: one statement for
        the step's entries)."""
        for table, run in groupby(self.deferred, key=lambda item: item[0]):
            rows = [values for _t, values in run]
            if table is AuditEntry.__table__:
                audit_chain.append_later(self.connection, rows)
            else:
                s.execute(insert(table), rows)
        self.deferred.clear()

    def writing(self, last: bool = False) -> None:
        """The call sends a write before returning: from here on a failure must roll it back. A
        ``last`` write (``LAST_WRITE``) opens no SAVEPOINT: what fails after it fails the step."""
        if self.savepoint is None and not self.finishing and not self.unguarded:
            if last:
                self.unguarded = True
            else:
                self.savepoint = self.connection.begin_nested()

    def release(self) -> None:
        if self.savepoint is not None:
            self.savepoint.commit()

    def undo(self, s: Session) -> None:
        """Discard what the failed call changed: its pending ORM changes, its deferred inserts (and
        the audit chain heads they moved), and what it wrote."""
        if self.deferred:
            self.deferred.clear()
            audit_chain.forget_heads(self.connection)
        if not s.in_transaction() or not s.get_transaction().is_active:
            return  # a failed flush rolled the whole transaction back: there is nothing left to undo
        for obj in list(s.new) + list(s.deleted):
            s.expunge(obj)
        for obj in list(s.dirty):
            s.expire(obj)
        if self.savepoint is not None and self.savepoint.is_active:
            self.savepoint.rollback()
            s.expire_all()  # flushed values in the identity map are gone from the database
            locked = s.info.get(LOCKED_ROWS, {})
            for key in set(locked) - self.locked_before:  # ROLLBACK TO SAVEPOINT released those locks
                locked.pop(key, None)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    call = session.info.get(_CALL)
    if call is not None:
        call.writing()


def _do_orm_execute(state: Any) -> None:
    call = state.session.info.get(_CALL)
    if call is not None and (state.is_insert or state.is_update or state.is_delete):
        call.writing(last=bool(state.execution_options.get(LAST_WRITE)))


_CALL = "aicmp_port_call"


def _begin(registry: PortRegistry, db: Database, conn: Connection) -> None:
    if not conn.get_execution_options().get(WRITE):
        return
    stale = _BOUND.pop(conn, None)
    if stale is not None:
        task_ports.pop(stale)
    ports = PlatformPorts(registry, db, conn)
    _BOUND[conn] = ports
    task_ports.push(ports)


def _end(conn: Connection) -> None:
    ports = _BOUND.pop(conn, None)
    if ports is not None:
        task_ports.pop(ports)
        ports.close()


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
    """Base of a port implementation: built for one transaction's ``PlatformPorts``, or for a job's
    ``StandalonePorts`` (then each call is its own transaction)."""

    def __init__(self, ports: PortSet) -> None:
        self._ports = ports
