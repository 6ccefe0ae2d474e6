"""The server fixtures of conftest.py work: fresh PostgreSQL databases, a RabbitMQ broker."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import sqlalchemy as sa


@pytest.mark.postgres
def test_fresh_database_is_empty_postgresql_15_or_later(postgres_database_url):
    engine = sa.create_engine(postgres_database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar() == 1
            assert int(conn.execute(sa.text("show server_version_num")).scalar_one()) >= 150000
            assert conn.execute(sa.text("select current_database()")).scalar() != "postgres"
            assert sa.inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


@pytest.fixture
def second_database_url(postgres_server):
    from tests.servers import create_database, drop_database

    name = f"aicmp_test_{uuid.uuid4().hex[:16]}"
    yield create_database(postgres_server.url, name)
    drop_database(postgres_server.url, name)


@pytest.mark.postgres
def test_two_fresh_databases_are_isolated(postgres_database_url, second_database_url):
    assert postgres_database_url != second_database_url
    first, second = sa.create_engine(postgres_database_url), sa.create_engine(second_database_url)
    try:
        # Left connected on purpose: dropping the database afterwards must still work.
        with first.begin() as conn:
            conn.execute(sa.text("create table t (v text)"))
            conn.execute(sa.text("insert into t values ('only in the first')"))
        with second.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
            with pytest.raises(sa.exc.ProgrammingError):
                conn.execute(sa.text("select * from t"))
        with first.connect() as conn:
            assert conn.execute(sa.text("select v from t")).scalar() == "only in the first"
    finally:
        second.dispose()


@pytest.mark.rabbitmq
def test_rabbitmq_publish_and_consume(rabbitmq_server):
    from kombu import Connection, Exchange, Queue

    name = f"aicmp-test-{uuid.uuid4().hex[:8]}"
    exchange = Exchange(name, type="direct", durable=False)
    queue = Queue(name, exchange, routing_key=name, auto_delete=True, durable=False)
    with Connection(rabbitmq_server.url, connect_timeout=10) as conn:
        conn.ensure_connection(max_retries=3)
        with conn.channel() as channel:
            bound = queue(channel)
            bound.declare()
            conn.Producer(channel).publish(
                {"hello": "world"}, exchange=exchange, routing_key=name, serializer="json"
            )
            message = None
            for _ in range(50):  # the broker routes asynchronously: poll briefly (<= 5 s)
                message = bound.get(no_ack=False)
                if message is not None:
                    break
                time.sleep(0.1)
            assert message is not None, "message not delivered within 5 s"
            assert message.decode() == {"hello": "world"}
            message.ack()
            bound.delete()


@pytest.mark.rabbitmq
def test_a_restarted_rabbitmq_keeps_durable_queues_and_persistent_messages(tmp_path):
    from kombu import Connection, Exchange, Queue

    from tests import servers

    try:
        broker = servers.start_rabbitmq(tmp_path / "rabbitmq")
    except servers.ServerNotInstalled as exc:
        if os.environ.get("AICMP_REQUIRE_SERVERS", "") not in ("", "0"):
            pytest.fail(f"{exc} (AICMP_REQUIRE_SERVERS=1)", pytrace=False)
        pytest.skip(str(exc))
    name = "aicmp-restart"
    exchange = Exchange(name, type="direct", durable=True)
    queue = Queue(name, exchange, routing_key=name, durable=True)
    try:
        with Connection(broker.url, connect_timeout=10) as conn, conn.channel() as channel:
            queue(channel).declare()
            conn.Producer(channel).publish({"kept": True}, exchange=exchange, routing_key=name, serializer="json",
                                           delivery_mode=2, confirm_publish=True)
        broker.restart()
        with Connection(broker.url, connect_timeout=10) as conn, conn.channel() as channel:
            message = queue(channel).get(no_ack=True)
            assert message is not None and message.decode() == {"kept": True}
    finally:
        broker.stop()
    with pytest.raises(RuntimeError):
        broker.restart()  # a stopped server is not started again behind the caller's back
