"""The usage queue: agents and inference gateways publish CloudEvents to a durable RabbitMQ queue;
``UsageConsumer`` takes them in batches and stores them exactly as ``POST /api/v1/usage`` does.

A message body is one event, a JSON list of events, or ``{"events": [...]}``; events name their
tenant (``tenantid``). Messages are acknowledged only after the batch that holds them committed
(manual acks, ``multiple=True`` up to the last one), so a crash redelivers them and the unique
(tenant, source, id) key makes the redelivery change nothing. A body that is not JSON, or events
refused by validation, are acknowledged too (counted in ``rejected``: redelivering them would never
succeed); a database error rejects the batch back onto the queue to be tried again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import pika

if TYPE_CHECKING:
    from engine.core import Engine

QUEUE = "aicmp.usage"
log = logging.getLogger(__name__)


@dataclass
class Counts:
    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


def _events(body: bytes) -> list[Any] | None:
    try:
        found = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(found, dict) and isinstance(found.get("events"), list):
        return found["events"]
    return found if isinstance(found, list) else [found]


def parameters(url: str) -> pika.URLParameters:
    """Connection parameters from a broker URL as Celery writes it too: ``amqp://h//`` (kombu's
    spelling of the default virtual host ``/``) means ``/``, as ``amqp://h/%2F`` does for pika."""
    parts = urlsplit(url)
    if parts.path in ("", "/", "//"):
        url = urlunsplit(parts._replace(path="/%2F"))
    return pika.URLParameters(url)


def declare(channel: Any, queue: str = QUEUE) -> None:
    """The queue survives a broker restart (durable); publishers mark messages persistent."""
    channel.queue_declare(queue=queue, durable=True)


def publish(url: str, events: list[dict[str, Any]], *, queue: str = QUEUE, per_message: int = 500) -> int:
    """Publish ``events`` as persistent messages of up to ``per_message`` each; how many messages."""
    connection = pika.BlockingConnection(parameters(url))
    try:
        channel = connection.channel()
        declare(channel, queue)
        sent = 0
        for i in range(0, len(events), per_message):
            channel.basic_publish("", queue, json.dumps({"events": events[i:i + per_message]}).encode(),
                                  pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent,
                                                       content_type="application/json"))
            sent += 1
        return sent
    finally:
        connection.close()


class UsageConsumer:
    """Consume ``queue`` into the engine's database until ``stop`` is set (or ``idle_exit_s`` passes
    without a message, for tests and benchmarks)."""

    def __init__(self, engine: Engine, url: str, *, queue: str = QUEUE, batch: int = 5_000,
                 prefetch: int = 50) -> None:
        self.engine, self.url, self.queue, self.batch, self.prefetch = engine, url, queue, batch, prefetch
        self.counts = Counts()
        self.stop = threading.Event()

    def run(self, *, idle_exit_s: float | None = None) -> Counts:
        from engine.domains.billing import service

        connection = pika.BlockingConnection(parameters(self.url))
        try:
            channel = connection.channel()
            declare(channel, self.queue)
            channel.basic_qos(prefetch_count=self.prefetch)
            pending: list[Any] = []
            last_tag, idle_since = None, time.monotonic()
            for method, _props, body in channel.consume(self.queue, inactivity_timeout=0.2):
                if method is not None:
                    idle_since = time.monotonic()
                    self.counts.messages += 1
                    events = _events(body)
                    if events is None:
                        self.counts.rejected += 1
                        log.warning("usage message %s is not JSON: acknowledged and dropped", method.delivery_tag)
                    else:
                        pending.extend(events)
                    last_tag = method.delivery_tag
                if last_tag is not None and (method is None or len(pending) >= self.batch):
                    self._commit(channel, service, pending, last_tag)
                    pending, last_tag = [], None
                if self.stop.is_set() or (method is None and idle_exit_s is not None
                                          and time.monotonic() - idle_since >= idle_exit_s):
                    break
            channel.cancel()
        finally:
            connection.close()
        return self.counts

    def _commit(self, channel: Any, service: Any, events: list[Any], last_tag: int) -> None:
        from engine.domains.billing.usage import MAX_BATCH
        from engine.errors import EngineError

        try:
            for i in range(0, len(events), MAX_BATCH):
                result = service.ingest_usage(self.engine, None, events[i:i + MAX_BATCH])
                self.counts.accepted += result["accepted"]
                self.counts.duplicates += result["duplicates"]
                self.counts.rejected += len(result["rejected"])
                for refused in result["rejected"][:10]:
                    log.warning("usage event refused: %s", refused)
        except EngineError as exc:  # nothing in this slice can ever be stored: retrying would not help
            log.warning("usage batch refused: %s", exc.message)
            self.counts.rejected += 1
        except Exception:
            log.exception("usage batch failed: its messages go back onto the queue")
            channel.basic_nack(delivery_tag=last_tag, multiple=True, requeue=True)
            time.sleep(1.0)
            return
        channel.basic_ack(delivery_tag=last_tag, multiple=True)
