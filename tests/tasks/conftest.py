"""Fake ports for the operator tests: small in-memory classes implementing the protocols of
``tasks.ports``, bound with ``tasks.ports.bound(...)``. No database, no engine.

Add new fakes in their own clearly marked section below; keep each section self-contained.

    FakeApplications / FakeQuota / FakeOrders / FakeMessages   one port each; every call is
                 recorded in ``calls``; set ``refuse`` (a tasks.ports.Refused) or, on the quota,
                 ``short`` (a tasks.ports.QuotaShort) to make the next calls fail that way
    FakePorts    the four together, as ``tasks.ports.current()`` returns them
    application(**overrides)   an application record as ApplicationsPort.get answers it
    item(**overrides)          one application item (1 x 2 vCPU, 4 GiB, 20 GiB disk, 1 instance)
    ports        (function) FakePorts holding ``application()`` as "app-1", bound for the test
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tasks.ports import QuotaShort, Refused, bound


def item(**overrides: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"product_id": "p-1", "spec_id": "s-1", "product_name": "ECS", "spec_name": "small",
                            "quantity": 1, "vcpu": 2, "memory_gib": "4", "disk_gib": "20", "gpu_model": None,
                            "gpu_count": 0, "gpus_by_model": None, "instances": 1, "eips": 0}
    line.update(overrides)
    return line


def application(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"id": "app-1", "number": "APP-0001", "tenant_id": "t-alpha", "organization_id": "o-1",
                              "applicant": "alpha-user", "title": "GPU cluster", "status": "approving",
                              "approvals": [], "items": [item()]}
    record.update(overrides)
    return record


class _Port:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.refuse: Refused | None = None

    def _call(self, *call: Any) -> None:
        self.calls.append(call)
        if self.refuse is not None:
            raise self.refuse


class FakeApplications(_Port):
    def __init__(self, *records: dict[str, Any]) -> None:
        super().__init__()
        self.records = {r["id"]: r for r in records}
        self.holders: dict[str, list[str]] = {}  # role -> user names in the nearest organisation

    def get(self, application_id: str) -> dict[str, Any]:
        self._call("get", application_id)
        if application_id not in self.records:
            raise Refused("UNKNOWN_APPLICATION", f"no application {application_id}")
        return self.records[application_id]

    def approvers(self, application_id: str, role: str) -> list[str]:
        self._call("approvers", application_id, role)
        return list(self.holders.get(role, []))

    def mark(self, application_id: str, status: str, *, comment: str | None = None) -> dict[str, Any]:
        self._call("mark", application_id, status, comment)
        record = self.records[application_id]
        previous, record["status"] = record["status"], status
        return {"status": status, "previous": previous}

    def record_decision(self, application_id: str, step: str, decision: str, comment: str | None) -> dict[str, Any]:
        self._call("record_decision", application_id, step, decision, comment)
        approvals = self.records[application_id]["approvals"]
        approvals.append({"step": step, "decision": decision, "comment": comment})
        return {"approvals": list(approvals)}


class FakeQuota(_Port):
    def __init__(self) -> None:
        super().__init__()
        self.short: QuotaShort | None = None
        self.held: dict[str, dict[str, Decimal]] = {}

    def reserve(self, application_id: str, demand: dict[str, Decimal]) -> dict[str, Any]:
        self._call("reserve", application_id, demand)
        if self.short is not None:
            raise self.short
        self.held[application_id] = {d: a for d, a in demand.items() if a}
        return dict(self.held[application_id])

    def commit(self, application_id: str) -> dict[str, Any]:
        self._call("commit", application_id)
        return self.held.pop(application_id, {})

    def release(self, application_id: str) -> dict[str, Any]:
        self._call("release", application_id)
        return self.held.pop(application_id, {})


class FakeOrders(_Port):
    def __init__(self) -> None:
        super().__init__()
        self.orders: dict[str, dict[str, Any]] = {}

    def create(self, application_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        self._call("create", application_id, lines)
        created = application_id not in self.orders
        if created:
            self.orders[application_id] = {"order_id": f"ord-{len(self.orders) + 1}",
                                           "number": f"ORD-{len(self.orders) + 1:04d}", "lines": lines}
        order = self.orders[application_id]
        return {"order_id": order["order_id"], "number": order["number"], "created": created}


class FakeMessages(_Port):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []

    def send(self, tenant_id: str | None, recipients: list[str], kind: str, title: str, body: str,
             link: dict[str, Any]) -> int:
        self._call("send", tenant_id, recipients, kind, title, body, link)
        self.sent.append({"tenant_id": tenant_id, "recipients": recipients, "kind": kind, "title": title,
                          "body": body, "link": link})
        return len(recipients)


class FakePorts:
    def __init__(self, *records: dict[str, Any]) -> None:
        self.applications = FakeApplications(*records)
        self.quota = FakeQuota()
        self.orders = FakeOrders()
        self.messages = FakeMessages()


@pytest.fixture
def ports() -> Iterator[FakePorts]:
    with bound(FakePorts(application())) as fake:
        yield fake
