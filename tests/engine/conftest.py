"""Engine fixtures: an Engine on a fresh database, SQLite by default or PostgreSQL on request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.core import Engine
from tasks.registry import OperatorRegistry
from tests.helpers import make_engine


@pytest.fixture
def operators() -> OperatorRegistry:
    """A private operator registry, so tests never leak operators into each other."""
    return OperatorRegistry()


@pytest.fixture
def engine(tmp_path: Path, operators: OperatorRegistry) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'aicmp.db'}", tmp_path, operators)
    yield eng
    eng.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path, operators: OperatorRegistry) -> Iterator[Engine]:
    """The same test on the embedded default and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'aicmp.db'}"
    else:
        url = request.getfixturevalue("postgres_database_url")
    eng = make_engine(url, tmp_path, operators)
    yield eng
    eng.close()
