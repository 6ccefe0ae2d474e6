"""Work order operators against a fake port (no database): they check the shape of what the process
passes (kind, title, source key, ids, objects, statuses) before the port sees anything, pass the
values across, turn the port's refusals into the BPMN error codes, and an escalation tells the
platform administrators through the messages port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tasks import work_orders
from tasks.ports import PortUnavailable, Refused, bound
from tasks.registry import REGISTRY, OperatorError


class FakeWorkOrders:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.refuse: Refused | None = None

    def _call(self, *call: Any) -> dict[str, Any]:
        self.calls.append(call)
        if self.refuse is not None:
            raise self.refuse
        return {"work_order_id": "wo-1", "number": "WO1", "status": call[0], "tenant_id": "t-1",
                "title": "Install", "escalated_at": "2026-03-02T17:00:00+00:00"}

    def open(self, kind: str, title: str, details: Any, source_key: str, **ids: Any) -> dict[str, Any]:
        return self._call("open", kind, title, details, source_key, ids)

    def update(self, work_order_id: str, status: str, result: Any = None, comment: Any = None) -> dict[str, Any]:
        return self._call("update", work_order_id, status, result, comment)

    def escalate(self, work_order_id: str) -> dict[str, Any]:
        return self._call("escalate", work_order_id)


class FakeMessages:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def send(self, tenant_id: Any, recipients: list[str], kind: str, title: str, body: str, link: dict) -> int:
        self.sent.append((tenant_id, recipients, kind, title, link))
        return 2


class FakePorts:
    def __init__(self) -> None:
        self.work_orders = FakeWorkOrders()
        self.messages = FakeMessages()


@pytest.fixture
def ports() -> Iterator[FakePorts]:
    with bound(FakePorts()) as p:
        yield p


def test_every_work_order_operator_is_registered() -> None:
    assert {"work_orders/open", "work_orders/update", "work_orders/escalate"} <= set(REGISTRY.names())


def test_the_operators_pass_the_process_values_to_the_port(ports: FakePorts) -> None:
    work_orders.open_work_order(kind="delivery", title="Install", source_key="prov:u1:1", details={"a": 1},
                                order_id="o-1", unit_id="u1")
    work_orders.update(work_order_id="wo-1", status="done", result={"result": "done"})
    work_orders.update(work_order_id="wo-1", status="reopened", comment="missing", result=None)
    assert ports.work_orders.calls == [
        ("open", "delivery", "Install", {"a": 1}, "prov:u1:1", {"order_id": "o-1", "resource_id": None,
                                                                "unit_id": "u1"}),
        ("update", "wo-1", "done", {"result": "done"}, None), ("update", "wo-1", "reopened", None, "missing")]


@pytest.mark.parametrize(("params", "code"), [
    ({"kind": "repair"}, "INVALID_WORK_ORDER"),
    ({"title": ""}, "INVALID_WORK_ORDER"),
    ({"title": "x" * 201}, "INVALID_WORK_ORDER"),
    ({"source_key": None}, "INVALID_WORK_ORDER"),
    ({"order_id": 42}, "INVALID_WORK_ORDER"),
    ({"details": ["not", "an", "object"]}, "INVALID_WORK_ORDER"),
])
def test_open_refuses_a_malformed_request_before_the_port(ports: FakePorts, params: dict, code: str) -> None:
    values = {"kind": "delivery", "title": "Install", "source_key": "k", **params}
    with pytest.raises(OperatorError) as exc:
        work_orders.open_work_order(**values)
    assert exc.value.code == code and ports.work_orders.calls == []


@pytest.mark.parametrize("status", ["open", "claimed", "", None])
def test_update_moves_only_to_the_statuses_a_process_sets(ports: FakePorts, status: Any) -> None:
    with pytest.raises(OperatorError) as exc:
        work_orders.update(work_order_id="wo-1", status=status)
    assert exc.value.code == "INVALID_STATUS" and ports.work_orders.calls == []


def test_a_refusal_becomes_the_bpmn_error_code(ports: FakePorts) -> None:
    ports.work_orders.refuse = Refused("UNKNOWN_WORK_ORDER", "no work order 'wo-9'")
    with pytest.raises(OperatorError) as exc:
        work_orders.update(work_order_id="wo-9", status="accepted")
    assert (exc.value.code, exc.value.message) == ("UNKNOWN_WORK_ORDER", "no work order 'wo-9'")


def test_an_escalation_tells_the_platform_administrators(ports: FakePorts) -> None:
    out = work_orders.escalate(work_order_id="wo-1")
    assert out == {"escalated_at": "2026-03-02T17:00:00+00:00", "sent": 2}
    (tenant, recipients, kind, title, link), = ports.messages.sent
    assert (tenant, recipients, kind) == ("t-1", ["role:platform_admin"], "work_order_escalated")
    assert "WO1" in title and link == {"work_order_id": "wo-1", "number": "WO1"}


def test_outside_an_engine_transaction_there_is_no_port() -> None:
    with pytest.raises(PortUnavailable):
        work_orders.update(work_order_id="wo-1", status="done")
