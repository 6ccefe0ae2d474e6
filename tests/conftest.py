"""Shared pytest fixtures.

Add new fixtures in their own clearly-marked section below; keep each section self-contained.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# `python -m pytest` (deploy/test.sh) puts the repository root on sys.path, a bare `pytest` does
# not: make `tests.servers` importable either way.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests import servers  # noqa: E402

# Cloud account credentials are sealed with a key that only the embedded default may generate
# (engine.domains.resources.secrets): PostgreSQL / broker engines of the test session share this one.
os.environ.setdefault("AICMP_CREDENTIALS_KEY", "aicmp-test-credentials-key-not-for-production")

if TYPE_CHECKING:
    from engine.core import Engine
    from tasks.registry import OperatorRegistry

# =============================================================================================
# Servers: PostgreSQL and RabbitMQ for the whole test session.
#
#   postgres_server        (session)  servers.Server; .url = postgresql+psycopg://...:PORT/postgres
#   rabbitmq_server        (session)  servers.Server; .url = amqp://guest:guest@127.0.0.1:PORT//
#   postgres_database_url  (function) URL of a brand-new empty database, dropped after the test
#
# Each session starts its own throwaway servers (tests/servers.py: free ports, private temp
# dirs, stopped at session end), unless these point at running ones:
#   AICMP_TEST_POSTGRES_URL   e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres
#                             (needs CREATEDB: every test gets its own database)
#   AICMP_TEST_BROKER_URL     e.g. amqp://guest:guest@127.0.0.1:5672//
# Servers not installed -> the tests that need them are skipped, or fail when
# AICMP_REQUIRE_SERVERS=1 (CI sets it, so nothing is silently skipped there).
# Under pytest-xdist every worker is a session of its own and starts its own servers.
# =============================================================================================


def _servers_required() -> bool:
    return os.environ.get("AICMP_REQUIRE_SERVERS", "") not in ("", "0")


def _start_or_skip(start, workdir: Path) -> servers.Server:
    try:
        return start(workdir)
    except servers.ServerNotInstalled as exc:
        reason = str(exc)
    # Outside the except block, so the report is one line, not a chained traceback.
    if _servers_required():
        pytest.fail(f"{reason} (AICMP_REQUIRE_SERVERS=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    url = os.environ.get("AICMP_TEST_POSTGRES_URL")
    if url:
        yield servers.Server(url=servers.sqlalchemy_url(url))  # not ours: never stopped
        return
    server = _start_or_skip(servers.start_postgres, tmp_path_factory.mktemp("postgres"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def rabbitmq_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    url = os.environ.get("AICMP_TEST_BROKER_URL")
    if url:
        yield servers.Server(url=url)
        return
    server = _start_or_skip(servers.start_rabbitmq, tmp_path_factory.mktemp("rabbitmq"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_database_url(postgres_server: servers.Server) -> Iterator[str]:
    """A brand-new, empty database for this test only (dropped afterwards, even if connected)."""
    name = f"aicmp_test_{uuid.uuid4().hex[:16]}"
    url = servers.create_database(postgres_server.url, name)
    try:
        yield url
    finally:
        servers.drop_database(postgres_server.url, name)


# ============================================================================================= end servers


# =============================================================================================
# Clock: ``frozen`` installs an engine.clock.FrozenClock at tests.helpers.T0 for the test and
# restores the previous clock after it; move time with ``frozen.advance(timedelta(...))``.
# =============================================================================================


@pytest.fixture
def frozen() -> Iterator[object]:
    from engine import clock
    from tests.helpers import T0

    fc = clock.FrozenClock(T0)
    previous = clock.use(fc)
    try:
        yield fc
    finally:
        clock.use(previous)


# =============================================================================================
# Engine: an Engine on a fresh database, SQLite by default or PostgreSQL on request, for the
# engine-core tests (tests/engine/) and the domain tests (tests/domains/).
#
#   operators   (function) a private OperatorRegistry, so tests never leak operators into each other
#   engine      (function) tests.helpers.make_engine on SQLite in tmp_path
#   any_engine  (function, parametrized) the same test on SQLite and on PostgreSQL (marked postgres)
#
# Imported lazily: tests/tasks/ runs operators against fake ports and never imports the engine.
# =============================================================================================


@pytest.fixture
def operators() -> OperatorRegistry:
    """A private operator registry, so tests never leak operators into each other."""
    from tasks.registry import OperatorRegistry

    return OperatorRegistry()


@pytest.fixture
def engine(tmp_path: Path, operators: OperatorRegistry) -> Iterator[Engine]:
    from tests.helpers import make_engine

    eng = make_engine(f"sqlite:///{tmp_path / 'aicmp.db'}", tmp_path, operators)
    yield eng
    eng.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path, operators: OperatorRegistry) -> Iterator[Engine]:
    """The same test on the embedded default and on PostgreSQL."""
    from tests.helpers import make_engine

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'aicmp.db'}"
    else:
        url = request.getfixturevalue("postgres_database_url")
    eng = make_engine(url, tmp_path, operators)
    yield eng
    eng.close()


# ============================================================================================= end engine
