"""The ``provisioning`` port on a real database: planning is idempotent, a choice that does not fit
the order is refused naming the field, and a process reaches only its own application's order in its
own tenant (a hostile tenant's process, or one started by a request, gets nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select

import tasks.ports
from engine.domains.orders.models import Order
from engine.runtime.services import InstanceScope, running_for
from tasks.ports import Refused
from tests.domains.provisioning.conftest import World


@contextmanager
def port(w: World, tenant: str, business_key: str | None, *, process_key: str = "application",
         internal: bool = True) -> Iterator[Any]:
    scope = InstanceScope(tenant_id=w.tenant[tenant], process_key=process_key, business_key=business_key,
                          internal=internal)
    with w.engine.db.write() as s, running_for(scope):
        s.execute(select(1))  # the transaction begins, and with it the ports
        yield tasks.ports.current().provisioning


def ordered(w: World, items: list[tuple[str, int]]) -> tuple[str, str]:
    """An approved application with its order made (no provisioning yet): (application id, order id)."""
    app_id = w.approved(items)
    with port(w, "alpha", app_id) as _p:
        ports = tasks.ports.current()
        app = ports.applications.get(app_id)
        made = ports.orders.create(app_id, [{k: v for k, v in i.items()} for i in app["items"]])
    return app_id, made["order_id"]


def test_planning_twice_returns_the_same_units_and_moves_the_order_to_provisioning(world: World) -> None:
    w = world
    app_id, order_id = ordered(w, [("small", 2), ("a100-1", 1)])
    choice = w.choice(("item1", w.pool["cpu"], 1), ("item2", w.pool["a100-cheap"], 1))
    with port(w, "alpha", app_id) as p:
        first = p.plan(order_id, choice)
    with port(w, "alpha", app_id) as p:
        again = p.plan(order_id, None)
    assert again == first
    units = first["units"]
    assert [(u["manual"], u["pool_id"]) for u in units] == [(False, w.pool["cpu"]), (True, None),
                                                           (False, w.pool["a100-cheap"])]
    assert units[2]["spec"]["gpus_by_model"] == {"A100": 1} and units[2]["spec"]["placement"] == "a100-cheap"
    assert len({u["client_token"] for u in units}) == 3
    assert w.order_row(app_id).status == "provisioning"


@pytest.mark.parametrize(("assignment", "field"), [
    ({"request_id": "item9", "pool_id": "x", "copies": 1}, "request_id"),
    ({"request_id": "item1", "pool_id": "x", "copies": -1}, "copies"),
])
def test_a_choice_that_does_not_fit_the_order_is_refused_naming_the_field(world: World, assignment: dict[str, Any],
                                                                        field: str) -> None:
    w = world
    app_id, order_id = ordered(w, [("small", 1)])
    with pytest.raises(Refused) as err, port(w, "alpha", app_id) as p:
        p.plan(order_id, {"assignments": [assignment]})
    assert err.value.code == "INVALID_CHOICE" and field in err.value.message
    assert w.order_row(app_id).status == "created"  # nothing kept


def test_another_tenants_process_cannot_reach_the_order_or_its_units(world: World) -> None:
    w = world
    app_id, order_id = ordered(w, [("small", 1)])
    with port(w, "alpha", app_id) as p:
        [unit] = p.plan(order_id, w.choice(("item1", w.pool["cpu"], 1)))["units"]
    for tenant, key in (("beta", app_id), ("alpha", "another-application")):
        with pytest.raises(Refused) as err, port(w, tenant, key) as p:
            p.plan(order_id, None)
        assert err.value.code == "UNKNOWN_ORDER"
        with pytest.raises(Refused) as err, port(w, tenant, key) as p:
            p.failed(unit["unit_id"], "X", "hostile")
        assert err.value.code == "UNKNOWN_UNIT"
        with pytest.raises(Refused) as err, port(w, tenant, key) as p:
            p.finish(order_id)
        assert err.value.code == "UNKNOWN_ORDER"
    with pytest.raises(Refused) as err, port(w, "alpha", app_id, process_key="mine", internal=False) as p:
        p.plan(order_id, None)  # a process a request started may not provision
    assert err.value.code == "NOT_PERMITTED"
    assert [u.status for u in w.units(app_id)] == ["planned"]


def test_unit_of_resource_answers_only_the_instances_tenant(world: World) -> None:
    w = world
    app_id = w.approved([("small", 1)])
    w.order(app_id, w.choice(("item1", w.pool["cpu"], 1)))
    [unit] = w.units(app_id)
    with port(w, "alpha", "termination-x", process_key="termination") as p:
        found = p.unit_of_resource(unit.resource_id)
    order = w.order_row(app_id)
    assert found == {"unit_id": unit.id, "order_id": order.id, "order_item_id": unit.order_item_id,
                     "spec_id": unit.spec_id, "business_system_id": order.business_system_id,
                     "organization_id": order.organization_id, "status": "running"}
    with pytest.raises(Refused) as err, port(w, "beta", "termination-x", process_key="termination") as p:
        p.unit_of_resource(unit.resource_id)
    assert err.value.code == "UNKNOWN_RESOURCE"
    with w.engine.db.read() as s:
        assert s.scalar(select(Order.status).where(Order.id == order.id)) == "running"


def test_two_concurrent_plans_of_one_order_make_its_units_once(any_world: World) -> None:
    """Both start at a barrier; the order row lock makes the second wait and find the first's units
    (without it both would insert a full set: the unique (line, copy) would fail one instead)."""
    import threading

    w = any_world
    app_id, order_id = ordered(w, [("small", 3)])
    choice = w.choice(("item1", w.pool["cpu"], 3))
    barrier, answers, errors = threading.Barrier(2), [], []

    def plan() -> None:
        try:
            barrier.wait()
            with port(w, "alpha", app_id) as p:
                answers.append([u["unit_id"] for u in p.plan(order_id, choice)["units"]])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=plan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and len(answers) == 2 and answers[0] == answers[1]
    assert [u.id for u in w.units(app_id)] == answers[0] and len(answers[0]) == 3

