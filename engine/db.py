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

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from engine import private_files

WRITE = "aicmp_write"


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
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")


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
        self.info: dict[str, Any] = {}
        self._read = sessionmaker(self.engine, expire_on_commit=False, info=self.info)
        self._write = sessionmaker(self.engine.execution_options(**{WRITE: True}), expire_on_commit=False,
                                   info=self.info)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
