"""Database access: one SQLAlchemy engine per URL, sessions for reads and for writes.

SQLite (the embedded default) keeps its file private (0600, ``engine.private_files``) and runs in
WAL mode with ``synchronous=NORMAL``; a write session starts with ``BEGIN IMMEDIATE`` so writers
queue on the database lock instead of failing late with SQLITE_BUSY. PostgreSQL sessions use READ
COMMITTED plus row locks taken by the caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from engine import private_files

WRITE = "aicmp_write"
# SQLite: an execution option under which no BEGIN is sent, so each statement commits by itself
# (pysqlite runs with isolation_level None: it never begins one either). Not SQLAlchemy's
# AUTOCOMMIT isolation level there: switching to it and back costs a PRAGMA per use and leaves
# the pooled connection with pysqlite's own implicit BEGINs turned on.
NO_BEGIN = "aicmp_no_begin"
# session.info key: when present, a list of (table, values) inserts that wait for the end of the
# unit of work that owns the session (a port call: engine.ports), so that a unit which fails before
# its end writes nothing and needs no SAVEPOINT. Whoever appends must not need the row before then.
DEFERRED_INSERTS = "aicmp_deferred_inserts"


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:" or parsed.query.get("uri"):
        return None  # in memory, or a URI SQLite parses itself
    return Path(database)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (pysqlite's own is broken)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(NO_BEGIN):
            return  # each statement is its own transaction (Database.autocommit)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE) else "BEGIN")


# session.info key: a dict shared by every session of one Database, for values read from rows that
# never change once written (a definition's content hash, a deployment's files). Keyed by tuples
# whose first item names the kind of value. Per Database object, so two databases never share it.
IMMUTABLE = "aicmp_immutable"


def immutable(session: Session) -> dict[tuple[Any, ...], Any]:
    """The IMMUTABLE cache of the session's database (a throwaway one for a session without it)."""
    return session.info.get(IMMUTABLE, {})


def insert_rows(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``table`` (one executemany): now, or at the end of the session's unit
    of work when it defers inserts (``DEFERRED_INSERTS``)."""
    if not rows:
        return
    deferred = session.info.get(DEFERRED_INSERTS)
    if deferred is not None:
        deferred.extend((table, row) for row in rows)
    else:
        session.execute(insert(table), rows)


class Database:
    """Owns the engine and hands out sessions; ``write()`` is the one way to mutate."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = _sqlite_file(url)
            if path is not None:
                private_files.sqlite_database(path)  # 0600, in a 0700 directory if we create it
            engine_kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        else:
            engine_kwargs.setdefault("pool_size", 10)
            engine_kwargs.setdefault("max_overflow", 20)
            engine_kwargs.setdefault("pool_pre_ping", True)
        self.engine = create_engine(url, **engine_kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        # handed to every session as ``session.info`` (engine.audit finds its keys there)
        self.info: dict[str, Any] = {IMMUTABLE: {}}
        self._read = sessionmaker(self.engine, expire_on_commit=False, info=self.info)
        self._write = sessionmaker(self.engine.execution_options(**{WRITE: True}), expire_on_commit=False,
                                   info=self.info)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def autocommit(self) -> Iterator[Session]:
        """Reads without a transaction: each statement sees what is committed when it runs. For
        the hot path's reads that need no snapshot across statements (the token check, a lookup
        before a write transaction re-checks under its lock): no BEGIN and no ROLLBACK round trips."""
        options = {NO_BEGIN: True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}
        with self.engine.connect().execution_options(**options) as conn, \
                Session(bind=conn, expire_on_commit=False, info=self.info) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
