"""kill -9 a worker between the cloud call and saving its result, 20 times with random timing
(seeded), through the real ``provisioning`` process: every instance finishes, exactly one resource
per unit exists at the provider and in cloud_resources, and billing started once per resource.

Two workers run; a round kills either the pool processes (the ones that call the cloud; their
worker forks new ones at once) or whole workers, main process included (new ones are started)."""

from __future__ import annotations

import random
import time

import pytest

from tests.reliability.harness import Stack
from tests.workers import wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

ROUNDS = 20
WHOLE_WORKER_SHARE = 0.15
LATENCY_MS = 150  # each provider call: the create's window for a kill mid-call


def test_twenty_kills_at_random_moments_leave_one_resource_and_one_bill_per_unit(stack: Stack) -> None:
    rng = random.Random(15)
    stack.cloud(latency_ms=LATENCY_MS)
    workers = [stack.worker(), stack.worker()]
    orders, ids, between, whole = [], [], 0, 0  # between: after the provider made it, before the unit was saved
    for _round in range(ROUNDS):
        for w in workers:
            wait_for(lambda w=w: w.ready() and w.children(), "worker ready with its pool process", workers)
        order = stack.order()
        orders.append(order)
        ids.append(stack.provision(order))
        [unit] = stack.units(order["order_id"])
        if rng.random() < 0.5:  # right after the provider committed the create
            deadline = time.monotonic() + 30
            while stack.at_provider(unit.client_token) == 0 and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.02))
        else:  # anywhere in the job: before, during or after the provider call
            time.sleep(rng.uniform(0, 3 * LATENCY_MS / 1000))
        made = stack.at_provider(unit.client_token) == 1
        if rng.random() < WHOLE_WORKER_SHARE:
            for w in workers:
                w.kill()
            whole += 1
            workers = [stack.worker(ready=False), stack.worker(ready=False)]
        else:  # a pool process being replaced (after an earlier round's kill) may be briefly absent
            killed, deadline = 0, time.monotonic() + 10
            while not killed and time.monotonic() < deadline:
                killed = sum(w.kill_children() for w in workers)
                if not killed:
                    time.sleep(0.005)
            assert killed >= 1, "no pool process to kill for 10 s"
        if made and stack.units(order["order_id"])[0].status != "running":
            between += 1

    statuses = stack.settle(ids)
    assert set(statuses.values()) == {"completed"}, (statuses, stack.incidents())
    assert stack.incidents() == []
    recorded, billed = stack.platform_resources(), stack.billed()
    for order in orders:
        assert stack.order_status(order["order_id"]) == "running"
        [unit] = stack.units(order["order_id"])
        assert unit.status == "running"
        assert stack.at_provider(unit.client_token) == 1, unit.client_token
        assert recorded[unit.client_token] == [unit.resource_id]
        assert billed[unit.resource_id] == 1
    assert stack.provider_total() == len(recorded) == len(billed) == ROUNDS
    assert between >= 1, "no kill landed between the cloud call and saving its result"
    print(f"\n{between} of {ROUNDS} kills landed between the provider's create and the saved unit; "
          f"{whole} killed whole workers")
