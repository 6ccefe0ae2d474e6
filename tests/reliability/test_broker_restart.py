"""Restart RabbitMQ during a provisioning burst: no work is lost. Jobs sit in a durable queue as
persistent messages (publisher confirms, late acks); a job whose message could not be sent while
the broker was down is sent again by the workers' sweep; the workers reconnect by themselves."""

from __future__ import annotations

import time

import pytest

from tests.reliability.harness import Stack
from tests.workers import wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

ORDERS = 12
COPIES = 2
LATENCY_MS = 200


def test_a_broker_restart_mid_burst_loses_no_unit(own_broker_stack: Stack) -> None:
    stack = own_broker_stack
    stack.cloud(latency_ms=LATENCY_MS)
    workers = [stack.worker(), stack.worker()]
    orders = [stack.order(COPIES) for _ in range(ORDERS)]
    ids = [stack.provision(order, COPIES) for order in orders[: ORDERS // 2]]
    wait_for(lambda: stack.provider_total() >= 2, "the burst under way", workers)
    assert stack.provider_total() < ORDERS // 2 * COPIES  # units are still waiting when the broker goes
    stack.broker.restart()  # clean stop and start: the node keeps its durable queue and messages
    ids += [stack.provision(order, COPIES) for order in orders[ORDERS // 2:]]  # sent to the new node
    restarted_at = time.monotonic()

    statuses = stack.settle(ids, timeout=120)
    assert set(statuses.values()) == {"completed"}, (statuses, stack.incidents())
    assert stack.incidents() == []
    recorded, billed = stack.platform_resources(), stack.billed()
    for order in orders:
        assert stack.order_status(order["order_id"]) == "running"
        units = stack.units(order["order_id"])
        assert len(units) == COPIES and {u.status for u in units} == {"running"}
        for unit in units:
            assert stack.at_provider(unit.client_token) == 1
            assert recorded[unit.client_token] == [unit.resource_id] and billed[unit.resource_id] == 1
    assert stack.provider_total() == len(recorded) == len(billed) == ORDERS * COPIES
    print(f"\nall {ORDERS * COPIES} units running {time.monotonic() - restarted_at:.1f} s after the restart")
