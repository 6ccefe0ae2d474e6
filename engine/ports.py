"""The engine's side of ``tasks.ports``: platform ports bound to every write transaction.

Operators that need platform data call ``tasks.ports.current()``. ``install`` makes that work for
one Engine: whenever one of its write transactions begins (``Database.write()``: the runtime's
start and mutations, timers, jobs, message delivery), a ``PlatformPorts`` for that transaction's
connection is bound in the current context, and unbound when it commits or rolls back. Each port
call runs in a SAVEPOINT on that same connection, so what an operator does through a port commits
together with the process step that called it, and a port call that fails leaves nothing behind.

``strict()`` marks a submission: inside it, a quota reservation the port refused makes the save
fail with ``SubmissionRefused`` (409), so a refused submission leaves no instance and no reservation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from weakref import WeakSet

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from engine import application_ports
from engine.db import WRITE
from engine.errors import Conflict
from tasks import ports as task_ports

if TYPE_CHECKING:
    from engine.core import Engine

_INFO_KEY = "aicmp_ports"
_installed: WeakSet[Any] = WeakSet()
_strict: ContextVar[bool] = ContextVar("aicmp_strict_submission", default=False)


class SubmissionRefused(Conflict):
    """A submission whose quota reservation was refused: nothing was stored. ``errors`` names the
    dimension and the level that is short (``code`` quota_short) or says it was submitted twice."""

    def __init__(self, message: str, *, errors: list[dict[str, Any]], code: str = "conflict") -> None:
        super().__init__(message, errors=errors)
        self.code = code


class PlatformPorts:
    """The ports of one write transaction (``tasks.ports.Ports``)."""

    def __init__(self, engine: Engine, connection: Connection) -> None:
        self.engine = engine
        self.connection = connection
        self.refusals: list[dict[str, Any]] = []  # what the quota port refused in this transaction
        self.applications = application_ports.Applications(self)
        self.quota = application_ports.Quotas(self)
        self.orders = application_ports.Orders(self)
        self.messages = application_ports.Messages(self)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session inside a SAVEPOINT of this transaction: released on success, rolled back on error."""
        with Session(bind=self.connection, join_transaction_mode="create_savepoint",
                     expire_on_commit=False, info=self.engine.db.info) as s, s.begin():
            yield s


def _begin(engine: Engine, conn: Connection) -> None:
    if not conn.get_execution_options().get(WRITE):
        return
    stale = conn.info.pop(_INFO_KEY, None)
    if stale is not None:
        task_ports.pop(stale)
    ports = PlatformPorts(engine, conn)
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


@contextmanager
def strict() -> Iterator[None]:
    """Within: a refused quota reservation fails the transaction (QuotaRefused) instead of letting
    the process handle the BPMN error."""
    token = _strict.set(True)
    try:
        yield
    finally:
        _strict.reset(token)


def refuse_short_submissions(_s: Session, _loaded: Any) -> None:
    """Save hook: inside ``strict()``, a refused reservation rolls the whole step back."""
    if not _strict.get():
        return
    ports = bound_ports()
    if ports is None or not ports.refusals:
        return
    first = ports.refusals[0]
    raise SubmissionRefused(first["message"], errors=list(ports.refusals),
                            code="quota_short" if first["code"] == "quota_short" else "conflict")


def install(engine: Engine) -> None:
    """Bind platform ports to ``engine``'s write transactions and add the application save hooks
    (refused submissions, task-assigned site messages, quota back when an application's process
    is cancelled). Idempotent."""
    if engine in _installed:
        return
    from engine.application_flow import INTERNAL_PROCESSES, release_on_cancel
    from engine.site_messages import notify_assignments

    event.listen(engine.db.engine, "begin", lambda conn: _begin(engine, conn))
    event.listen(engine.db.engine, "commit", _end)
    event.listen(engine.db.engine, "rollback", _end)
    hooks = engine.runtime.save_hooks
    for hook in (refuse_short_submissions, notify_assignments, release_on_cancel):
        if hook not in hooks:
            hooks.append(hook)
    engine.runtime.internal_keys.update(INTERNAL_PROCESSES)
    _installed.add(engine)
