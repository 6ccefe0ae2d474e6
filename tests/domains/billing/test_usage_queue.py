"""The usage queue against a real RabbitMQ: events published by gateways are stored once, acknowledged
after commit, and a redelivered or replayed message changes nothing; a poison message is dropped."""

from __future__ import annotations

import json

import pika
import pytest
from sqlalchemy import func, select

from engine import clock
from engine.domains.billing import consumer
from engine.domains.billing.models import UsageEvent
from tests.domains.billing.conftest import World, at

pytestmark = [pytest.mark.rabbitmq]


@pytest.fixture(autouse=True)
def now():
    fc = clock.FrozenClock(at("2026-03-20T12:00:00"))
    previous = clock.use(fc)
    yield fc
    clock.use(previous)


def queued(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(consumer.parameters(url))
    try:
        return connection.channel().queue_declare(queue=queue, durable=True, passive=True).method.message_count
    finally:
        connection.close()


def stored(engine, tenant: str) -> int:
    with engine.db.read() as s:
        return s.scalar(select(func.count()).select_from(UsageEvent).where(UsageEvent.tenant_id == tenant))


def test_published_usage_is_stored_once_and_acknowledged_after_commit(engine, rabbitmq_server, tmp_path):
    queue = f"usage-{tmp_path.name}"
    events = [World.event() for _ in range(1200)]
    for e in events:
        e["tenantid"] = "t-alpha"
    beta = World.event()
    beta["tenantid"] = "t-beta"
    stray = World.event()  # no tenant: refused, acknowledged
    assert consumer.publish(rabbitmq_server.url, events + [beta, stray], queue=queue, per_message=500) == 3
    assert consumer.publish(rabbitmq_server.url, events[:100], queue=queue) == 1  # a gateway's replay
    connection = pika.BlockingConnection(consumer.parameters(rabbitmq_server.url))
    connection.channel().basic_publish("", queue, b"not json")
    connection.close()
    counts = consumer.UsageConsumer(engine, rabbitmq_server.url, queue=queue).run(idle_exit_s=1.0)
    assert (counts.messages, counts.accepted, counts.duplicates, counts.rejected) == (5, 1201, 100, 2)
    assert stored(engine, "t-alpha") == 1200 and stored(engine, "t-beta") == 1
    assert queued(rabbitmq_server.url, queue) == 0  # every message acknowledged


def test_messages_of_a_failed_batch_go_back_to_the_queue_and_count_once_later(engine, rabbitmq_server, tmp_path,
                                                                               monkeypatch):
    queue = f"usage-{tmp_path.name}"
    events = [World.event() for _ in range(10)]
    for e in events:
        e["tenantid"] = "t-alpha"
    consumer.publish(rabbitmq_server.url, events, queue=queue)
    from engine.domains.billing import service

    real = service.ingest_usage
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "ingest_usage", flaky)
    monkeypatch.setattr(consumer.time, "sleep", lambda _s: None)
    counts = consumer.UsageConsumer(engine, rabbitmq_server.url, queue=queue).run(idle_exit_s=1.0)
    assert counts.accepted == 10 and stored(engine, "t-alpha") == 10
    assert queued(rabbitmq_server.url, queue) == 0
    assert json.loads(json.dumps(counts.__dict__))["messages"] == 2  # delivered, refused back, delivered again
