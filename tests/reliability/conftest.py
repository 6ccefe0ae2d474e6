"""Fixtures of the reliability tests: ``stack`` on the session's RabbitMQ, ``own_broker_stack`` on
a RabbitMQ of its own (a test may restart it), both on a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers
from tests.reliability.harness import Stack, skip_or_fail


@pytest.fixture
def stack(rabbitmq_server: servers.Server, postgres_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    built = Stack.build(postgres_database_url, rabbitmq_server, tmp_path)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def own_broker_stack(postgres_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    try:
        broker = servers.start_rabbitmq(tmp_path / "rabbitmq")
    except servers.ServerNotInstalled as exc:
        skip_or_fail(str(exc))
    try:
        built = Stack.build(postgres_database_url, broker, tmp_path)
        try:
            yield built
        finally:
            built.close()
    finally:
        broker.stop()
