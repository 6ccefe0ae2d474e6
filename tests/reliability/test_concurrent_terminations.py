"""50 concurrent terminations of one resource (``resource_actions.request_action``, what
``POST /api/v1/resources/{id}/actions`` calls), on real workers through the real ``termination``
process: one request is taken and the 49 others are refused naming it; the provider sees one
deletion; billing stops once, with one final bill line; the unit ends terminated."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.domains.resource_actions import service as actions
from engine.errors import Conflict
from tests.reliability.harness import SETTLED, Stack
from tests.workers import wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

CALLERS = 50


def test_fifty_concurrent_terminations_delete_once_and_bill_one_final_line(stack: Stack) -> None:
    stack.cloud()
    workers = [stack.worker(), stack.worker()]
    order = stack.order()
    assert stack.settle([stack.provision(order)]) != {}
    [unit] = stack.units(order["order_id"])
    assert unit.status == "running"
    requester = stack.principal("alpha-user")
    start = threading.Barrier(CALLERS)

    def terminate(_n: int) -> dict | Conflict:
        start.wait()
        try:
            return actions.request_action(stack.engine, requester, unit.resource_id, "terminate")
        except Conflict as refused:
            return refused

    with ThreadPoolExecutor(CALLERS) as pool:
        answers = list(pool.map(terminate, range(CALLERS)))
    taken = [a for a in answers if isinstance(a, dict)]
    refused = [a for a in answers if isinstance(a, Conflict)]
    assert len(taken) == 1 and len(refused) == CALLERS - 1, answers
    assert {r.errors[0]["request_id"] for r in refused} == {taken[0]["id"]}

    instance = taken[0]["instance_id"]
    wait_for(lambda: stack.approve_all() >= 0 and stack.statuses([instance])[instance] in SETTLED,
             "the termination approved and done", workers)
    assert stack.statuses([instance]) == {instance: "completed"}, stack.incidents()
    assert stack.incidents() == []
    assert stack.provider_calls("delete") == 1
    assert stack.provider_status(unit.client_token) == "deleted"
    [stopped] = stack.stopped(unit.resource_id)
    assert stopped is not None
    assert len(stack.rated_lines(unit.resource_id)) == 1  # the final, prorated line (it ran today only)
    [unit] = stack.units(order["order_id"])
    assert unit.status == "terminated"
