"""Counting SQL per request: statements and transactions, the deterministic half of speed.

Times vary with the machine; the number of statements a request sends does not. ``SqlCounter``
listens on one SQLAlchemy engine and records every statement (transaction control included:
``BEGIN``, ``SAVEPOINT`` and ``RELEASE`` are round trips too) and every transaction begun (reads on
an autocommit connection begin none). ``per_request`` wraps a Flask test client so each request's share is noted
under a name; budget tests assert on those figures.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

from engine.db import NO_BEGIN

_VERB = re.compile(r"\s*(INSERT INTO|DELETE FROM|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT|\w+)\s*\"?(\w*)", re.I)
_FROM = re.compile(r"\bFROM\s+\"?(\w+)", re.I)


def shape(statement: str) -> str:
    """``SELECT users``, ``UPDATE quotas``, ``SAVEPOINT``: the verb and its (first) table."""
    m = _VERB.match(statement)
    if m is None:
        return statement[:40]
    verb = m.group(1).upper()
    if verb == "SELECT":
        table = _FROM.search(statement)
        return f"SELECT {table.group(1) if table else m.group(2)}"
    if verb in ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT", "ROLLBACK"):
        return verb
    return f"{verb.split()[0]} {m.group(2)}"


@dataclass
class Tally:
    """What one request (or any block) sent to the database."""

    statements: list[str] = field(default_factory=list)
    transactions: int = 0  # begun on a connection (autocommit reads are none)

    @property
    def count(self) -> int:
        return len(self.statements)

    def shapes(self) -> Counter:
        return Counter(shape(s) for s in self.statements)

    def add(self, other: Tally) -> None:
        self.statements.extend(other.statements)
        self.transactions += other.transactions


class SqlCounter:
    """Every statement and finished transaction on ``engine`` while ``block()`` is open."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._current: Tally | None = None

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self._current is not None:
            self._current.statements.append(statement)

    def _begun(self, conn: Any) -> None:
        options = conn.get_execution_options()
        if self._current is not None and options.get("isolation_level") != "AUTOCOMMIT" and not options.get(NO_BEGIN):
            self._current.transactions += 1

    @contextmanager
    def block(self) -> Iterator[Tally]:
        tally = Tally()
        self._current = tally
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "begin", self._begun)
        try:
            yield tally
        finally:
            event.remove(self.engine, "before_cursor_execute", self._statement)
            event.remove(self.engine, "begin", self._begun)
            self._current = None


class CountingClient:
    """A Flask test client whose every request is tallied under the name given with ``as_``."""

    def __init__(self, client: Any, engine: Engine) -> None:
        self.client = client
        self.counter = SqlCounter(engine)
        self.requests: list[tuple[str, Tally]] = []

    def call(self, name: str, method: str, path: str, **kwargs: Any) -> Any:
        with self.counter.block() as tally:
            resp = self.client.open(path, method=method, **kwargs)
        self.requests.append((name, tally))
        return resp

    def total(self, names: set[str] | None = None) -> Tally:
        out = Tally()
        for name, tally in self.requests:
            if names is None or name in names:
                out.add(tally)
        return out

    def report(self) -> str:
        """One line per request: name, statements, transactions, the most frequent shapes."""
        lines = []
        for name, tally in self.requests:
            top = ", ".join(f"{s} {n}" for s, n in tally.shapes().most_common(6))
            lines.append(f"{name:<18} {tally.count:>3} statements {tally.transactions} tx  ({top})")
        return "\n".join(lines)
