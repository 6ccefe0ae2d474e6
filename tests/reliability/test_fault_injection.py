"""A simulator failure injected at each provider step of each flow ends in a defined state: the
unit running (one resource at the provider, billed once), or failed into a work order; a
termination ends with the resource deleted and billing stopped, or in a work order; a resource
action ends its request done or failed. Never a resource at the provider that no unit runs and no
work order names (an orphan), never an incident.

Provider steps: provisioning's ``connector/create`` (``connector/get`` is only reached for a
resource that is not running yet, which the simulator never returns); termination's
``connector/delete``; a resource action's ``connector/start``, ``/stop`` and ``/reboot``. Real
workers, the real flows, back-offs let pass by the shifted clock."""

from __future__ import annotations

import pytest

from engine.domains.resource_actions import service as actions
from tests.reliability.harness import SETTLED, Stack
from tests.workers import wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

# (op, kind, error, how many calls in a row fail) -> the unit's end: "running" or "work_order"
PROVISIONING = [
    ("create", "error", "Unreachable", 1, "running"),  # retried after the back-off
    ("create", "timeout", "Timeout", 1, "running"),
    ("create", "lose_response", "Timeout", 1, "running"),  # made, answer lost: the retry finds it
    ("create", "error", "ProviderQuotaExceeded", 1, "running"),  # placed again on the other pool
    ("create", "error", "Conflict", 1, "work_order"),
    ("create", "error", "Unauthorised", 1, "work_order"),
    ("create", "error", "Unreachable", 4, "work_order"),  # every try spent
]
# -> the resource's end: "deleted" (billing stopped, unit terminated) or "work_order" first
TERMINATION = [
    ("delete", "error", "Unreachable", 1, "deleted"),  # the operator's own retry
    ("delete", "lose_response", "Timeout", 1, "deleted"),  # deleted, answer lost: the retry sees it gone
    ("delete", "error", "Conflict", 1, "work_order"),  # operations repair, then one more delete
    ("delete", "timeout", "Timeout", 3, "work_order"),  # the operator's tries spent
]
# a resource action (bpmn/resource_action.bpmn) -> the request's end and the provider's status after
ACTIONS = [
    ("stop", "error", "Unreachable", 1, "done", "stopped"),  # the operator's own retry
    ("start", "error", "Conflict", 1, "failed", "stopped"),  # refused: nothing changed
    ("start", "lose_response", "Timeout", 1, "done", "running"),  # started, answer lost: the retry sees it
    ("reboot", "timeout", "Timeout", 3, "failed", "running"),  # the operator's tries spent
]


def _inject(stack: Stack, op: str, kind: str, error: str, times: int) -> None:
    stack.cloud()  # no faults, call counters from zero
    for nth in range(1, times + 1):
        stack.fault(op, nth, kind, error)


def _no_orphans(stack: Stack) -> None:
    """Every resource the provider holds alive is a running unit's, or a work order names its unit."""
    units = {u.client_token: u for u in stack.units()}
    with_work_order = {w.unit_id for w in stack.work_orders()}
    for token, unit in units.items():
        alive = stack.provider_status(token) not in (None, "deleted")
        if alive:
            assert unit.status in ("running", "terminating") or unit.id in with_work_order, (token, unit.status)


def test_each_provisioning_step_failure_ends_running_or_in_a_work_order(stack: Stack) -> None:
    workers = [stack.worker(), stack.worker()]
    for op, kind, error, times, end in PROVISIONING:
        case = f"{op} {kind} {error} x{times}"
        _inject(stack, op, kind, error, times)
        order = stack.order()
        instance = stack.provision(order)
        status = stack.at_rest([instance])[instance]
        [unit] = stack.units(order["order_id"])
        assert stack.incidents() == [], case
        if end == "running":
            assert (status, unit.status) == ("completed", "running"), case
            assert stack.at_provider(unit.client_token) == 1, case
            assert stack.platform_resources()[unit.client_token] == [unit.resource_id], case
            assert stack.billed()[unit.resource_id] == 1, case
            if error == "ProviderQuotaExceeded":
                assert unit.pool_id != stack.pool_id, case
        else:
            assert (status, unit.status) == ("running", "work_order"), case
            assert [w.unit_id for w in stack.work_orders() if w.order_id == order["order_id"]] == [unit.id], case
            assert stack.resolve_work_orders("cannot_do") == 1, case
            assert stack.settle([instance]) == {instance: "completed"}, case
            [unit] = stack.units(order["order_id"])
            assert unit.status == "failed" and unit.work_order_id, case
            assert stack.order_status(order["order_id"]) == "failed", case
        _no_orphans(stack)
    assert len(workers) == 2


def test_each_termination_step_failure_ends_deleted_or_in_a_work_order(stack: Stack) -> None:
    workers = [stack.worker(), stack.worker()]
    stack.cloud()
    orders = [stack.order() for _ in TERMINATION]
    made = stack.settle([stack.provision(order) for order in orders])
    assert set(made.values()) == {"completed"}
    requester = stack.principal("alpha-user")
    for (op, kind, error, times, end), order in zip(TERMINATION, orders, strict=True):
        case = f"{op} {kind} {error} x{times}"
        [unit] = stack.units(order["order_id"])
        _inject(stack, op, kind, error, times)
        instance = actions.request_action(stack.engine, requester, unit.resource_id, "terminate")["instance_id"]

        def done_or_with_operations(instance: str = instance) -> bool:
            stack.approve_all()
            return stack.statuses([instance])[instance] in SETTLED or any(
                t.instance_id == instance for t in stack.open_tasks("deliver"))

        wait_for(done_or_with_operations, f"{case}: termination at rest", workers)
        assert stack.incidents() == [], case
        if end == "work_order":
            assert stack.statuses([instance]) == {instance: "running"}, case
            assert [w.resource_id for w in stack.work_orders() if w.resource_id == unit.resource_id] == [
                unit.resource_id], case
            stack.cloud()  # operations repaired the provider
            assert stack.resolve_work_orders("done") == 1, case
            wait_for(lambda instance=instance: stack.statuses([instance])[instance] in SETTLED,
                     f"{case}: termination done", workers)
        assert stack.statuses([instance]) == {instance: "completed"}, (case, stack.incidents())
        assert stack.provider_status(unit.client_token) == "deleted", case
        assert stack.stopped(unit.resource_id) != [None], case
        assert len(stack.rated_lines(unit.resource_id)) == 1, case
        [unit] = stack.units(order["order_id"])
        assert unit.status == "terminated", case
        _no_orphans(stack)


def test_each_resource_action_failure_ends_the_request_done_or_failed(stack: Stack) -> None:
    workers = [stack.worker(), stack.worker()]
    stack.cloud()
    order = stack.order()
    assert stack.settle([stack.provision(order)]) != {}
    [unit] = stack.units(order["order_id"])
    requester = stack.principal("alpha-user")
    for op, kind, error, times, end, provider in ACTIONS:
        case = f"{op} {kind} {error} x{times}"
        _inject(stack, op, kind, error, times)
        request = actions.request_action(stack.engine, requester, unit.resource_id, op)
        instance = request["instance_id"]

        def settled(instance: str = instance) -> bool:
            stack.approve_all()
            return stack.statuses([instance])[instance] in SETTLED

        wait_for(settled, f"{case}: action done", workers)
        assert stack.statuses([instance]) == {instance: "completed"}, (case, stack.incidents())
        assert stack.incidents() == [], case
        assert actions.get_request(stack.engine, requester, request["id"])["status"] == end, case
        assert stack.provider_status(unit.client_token) == provider, case
    assert stack.at_provider(unit.client_token) == 1 and stack.billed()[unit.resource_id] == 1
    _no_orphans(stack)
