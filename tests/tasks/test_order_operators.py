"""``orders/create`` against fake ports: it reads the application, refuses one that is not approved
(NOT_APPROVED, before the orders port), builds one line per item with exactly the line fields, in
the application's order, and returns the orders port's answer; a repeat returns the same order."""

from __future__ import annotations

import pytest

from connectors import vector
from tasks import orders
from tasks.ports import Refused
from tasks.registry import OperatorError
from tests.tasks.conftest import item

# ---------------------------------------------------------------------------------------------- lines


def test_one_line_per_item_with_exactly_the_line_fields_in_order():
    items = [item(spec_id="s-1", note="dropped", id="it-1"), item(spec_id="s-2", quantity=4)]
    lines = orders.order_lines(items)
    assert [line["spec_id"] for line in lines] == ["s-1", "s-2"]
    assert all(tuple(line) == orders.LINE_FIELDS + orders.OPTIONAL_FIELDS for line in lines)
    assert lines[0]["term_months"] is None  # an item without a term: a line without one
    assert orders.order_lines([item(term_months=12)])[0]["term_months"] == 12
    assert set(vector.LINE_FIELDS) <= set(orders.LINE_FIELDS)
    assert lines[1]["quantity"] == 4


def test_no_items_cannot_be_ordered():
    with pytest.raises(OperatorError) as err:
        orders.order_lines([])
    assert err.value.code == "NO_ITEMS"


def test_an_item_missing_a_line_field_is_invalid():
    broken = item()
    del broken["gpus_by_model"], broken["spec_name"]
    with pytest.raises(OperatorError) as err:
        orders.order_lines([item(), broken])
    assert err.value.code == "INVALID_ITEMS" and "spec_name" in err.value.message
    assert "gpus_by_model" in err.value.message


# ---------------------------------------------------------------------------------------------- the operator


@pytest.mark.parametrize("status", ["draft", "approving", "rejected", "cancelled"])
def test_an_application_that_is_not_approved_is_refused_before_the_port(ports, status):
    ports.applications.records["app-1"]["status"] = status
    with pytest.raises(OperatorError) as err:
        orders.create(application_id="app-1")
    assert err.value.code == "NOT_APPROVED" and status in err.value.message
    assert ports.orders.calls == []


def test_an_approved_application_gets_its_order_once(ports):
    ports.applications.records["app-1"]["status"] = "approved"
    first = orders.create(application_id="app-1")
    assert first == {"order_id": "ord-1", "number": "ORD-0001", "created": True}
    (call,) = ports.orders.calls
    assert call[1] == "app-1" and call[2] == orders.order_lines([item()])
    ports.applications.records["app-1"]["status"] = "ordered"
    assert orders.create(application_id="app-1") == {"order_id": "ord-1", "number": "ORD-0001", "created": False}


def test_a_refused_order_keeps_the_ports_code(ports):
    ports.applications.records["app-1"]["status"] = "approved"
    ports.orders.refuse = Refused("QUOTA_NOT_COMMITTED", "commit the quota first")
    with pytest.raises(OperatorError) as err:
        orders.create(application_id="app-1")
    assert (err.value.code, err.value.message) == ("QUOTA_NOT_COMMITTED", "commit the quota first")


def test_invalid_items_never_reach_the_orders_port(ports):
    ports.applications.records["app-1"].update(status="approved", items=[])
    with pytest.raises(OperatorError, match="no items"):
        orders.create(application_id="app-1")
    assert ports.orders.calls == []
