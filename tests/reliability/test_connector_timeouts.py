"""A connector timeout, through the real ``provisioning`` and ``work_order`` processes on real
workers: the create is tried again after each back-off, then the unit fails into a work order for
operations; the instance never hangs (it waits for operations, then ends with the unit failed)."""

from __future__ import annotations

import pytest

from tests.reliability.harness import Stack

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

TRIES = 4  # the first create and three more after the back-offs (bpmn/provisioning.bpmn)


def test_timeouts_are_retried_then_a_work_order_takes_the_unit(stack: Stack) -> None:
    stack.cloud()
    for nth in range(1, TRIES + 1):
        stack.fault("create", nth, "timeout")
    stack.worker()
    order = stack.order()
    instance = stack.provision(order)

    assert stack.at_rest([instance]) == {instance: "running"}  # waits for operations, no incident
    [unit] = stack.units(order["order_id"])
    assert (unit.status, unit.attempts, unit.resource_id) == ("work_order", TRIES, None)
    assert "CONNECTOR_TIMEOUT" in (unit.last_error or "")
    [wo] = stack.work_orders()
    assert (wo.kind, wo.unit_id, wo.order_id) == ("failure", unit.id, order["order_id"])
    assert [t.instance_id for t in stack.open_tasks("deliver")] == [instance]
    assert stack.provider_total() == 0 and stack.platform_resources() == {} and stack.billed() == {}
    assert stack.incidents() == []

    assert stack.resolve_work_orders("cannot_do") == 1
    assert stack.settle([instance]) == {instance: "completed"}
    [unit] = stack.units(order["order_id"])
    assert (unit.status, unit.work_order_id) == ("failed", wo.id)
    assert stack.order_status(order["order_id"]) == "failed"
