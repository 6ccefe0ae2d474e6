"""The engine's clock: timezone-aware UTC, replaceable in tests.

SpiffWorkflow's timer code reads ``datetime.now(timezone.utc)`` itself; ``engine.timers``
routes that through this clock so a test can move time forward.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock that only moves when told to (tests, ``aicmp bpmn simulate``)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FrozenClock.set needs a timezone-aware datetime")
        with self._lock:
            self._now = when


_current: Clock = Clock()
_local: ContextVar[Clock | None] = ContextVar("aicmp_clock", default=None)


def now() -> datetime:
    return current().now()


def current() -> Clock:
    return _local.get() or _current


@contextmanager
def local(clock: Clock) -> Iterator[Clock]:
    """Use ``clock`` in this thread/context only (``aicmp bpmn simulate`` runs beside servers)."""
    token = _local.set(clock)
    try:
        yield clock
    finally:
        _local.reset(token)


def use(clock: Clock) -> Clock:
    """Install ``clock`` process-wide; returns the previous one so a test can restore it."""
    global _current
    previous, _current = _current, clock
    return previous
