"""The request mix of bench_http: log in, then application flows from the cart to the order.

A flow is the happy path of tests/api/applications/test_applications.py over HTTP: put a spec in the cart, create
a draft from that cart line, submit it, the organisation's approver finds the task in the inbox and
completes it, the platform operator gives the final approval (``/decision``), and the applicant reads
the application back and finds it ``ordered`` with its order. Every answer's status is checked; a
wrong one is recorded under its request type and status and ends that flow.

Anything with ``call(method, path, *, json_body=None, token=None) -> Answer`` can drive it: the HTTP
client of tests/bench/http_client.py, or the Flask test client adapter of http_profile.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from tests.bench.http_client import Answer
from tests.bench.http_data import BenchTenant, spec_code

LOGIN = "login"
REQUEST_TYPES = ("catalog", "add to cart", "create application", "submit", "list tasks", "complete task",
                 "decision", "get application")


class Caller(Protocol):
    def call(self, method: str, path: str, *, json_body: Any = None, token: str | None = None) -> Answer: ...


class FlowFailed(Exception):
    """A request answered something else than expected; the flow cannot go on."""


@dataclass
class Recorder:
    """Latencies (ms) per request type, and every failure by (type, status or exception name)."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)
    samples: dict[tuple[str, str], str] = field(default_factory=dict)  # one message per kind of failure
    flows: int = 0
    keep_latencies: bool = True

    def add(self, kind: str, ms: float) -> None:
        if self.keep_latencies:
            self.latencies.setdefault(kind, []).append(ms)

    def fail(self, kind: str, what: str, message: str) -> None:
        self.errors[(kind, what)] += 1
        self.samples.setdefault((kind, what), message[:300])

    def merge(self, other: Recorder) -> None:
        for kind, values in other.latencies.items():
            self.latencies.setdefault(kind, []).extend(values)
        self.errors.update(other.errors)
        for key, message in other.samples.items():
            self.samples.setdefault(key, message)
        self.flows += other.flows


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p99 of 100 values is the 99th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _short(body: Any) -> str:
    if isinstance(body, dict):
        return str({k: body.get(k) for k in ("code", "message", "errors") if k in body} or body)
    return str(body)


class Flows:
    """One client's conversation with the API: its own tokens, its tenants, its recorder."""

    def __init__(self, caller: Caller, recorder: Recorder, password: str) -> None:
        self.caller, self.rec, self.password = caller, recorder, password
        self.tokens: dict[str, str] = {}
        self.spec_id: str | None = None

    def _call(self, kind: str, method: str, path: str, expect: int, *, json_body: Any = None,
              user: str | None = None) -> Any:
        try:
            ans = self.caller.call(method, path, json_body=json_body, token=self.tokens[user] if user else None)
        except Exception as exc:  # noqa: BLE001 - a dropped connection is a benchmark result, not a crash
            self.rec.fail(kind, type(exc).__name__, str(exc))
            raise FlowFailed(kind) from exc
        if ans.status != expect:
            self.rec.fail(kind, str(ans.status), f"{method} {path}: {_short(ans.body)}")
            raise FlowFailed(kind)
        self.rec.add(kind, ans.ms)
        return ans.body

    def check(self, kind: str, ok: bool, message: str) -> None:
        if not ok:
            self.rec.fail(kind, "unexpected body", message)
            raise FlowFailed(kind)

    def login(self, username: str) -> bool:
        """Log in once; the latency goes under ``login``. False when it failed (recorded)."""
        try:
            body = self._call(LOGIN, "POST", "/api/v1/auth/login", 200,
                              json_body={"username": username, "password": self.password})
        except FlowFailed:
            return False
        self.tokens[username] = body["access_token"]
        return True

    def find_spec(self, user: str) -> None:
        product_code, code = spec_code()
        body = self._call("catalog", "GET", "/api/v1/catalog/products?q=general&page_size=50", 200, user=user)
        specs = [sp for p in body["items"] if p["code"] == product_code for sp in p["specs"] if sp["code"] == code]
        self.check("catalog", len(specs) == 1, f"spec {product_code}/{code} not in the catalog: {body}")
        self.spec_id = specs[0]["id"]

    def flow(self, tenant: BenchTenant, operator: str) -> bool:
        """One application from the cart to its order; True when every step answered as expected."""
        try:
            self._flow(tenant, operator)
        except FlowFailed:
            return False
        self.rec.flows += 1
        return True

    def _flow(self, t: BenchTenant, operator: str) -> None:
        cart = self._call("add to cart", "POST", "/api/v1/cart/items", 200,
                          json_body={"spec_id": self.spec_id, "quantity": 1}, user=t.user)
        lines = [line["id"] for line in cart["items"] if line["spec"]["id"] == self.spec_id]
        self.check("add to cart", len(lines) == 1, f"cart: {cart}")
        app = self._call("create application", "POST", "/api/v1/applications", 201, user=t.user, json_body={
            "business_system_id": t.business_system_id, "purpose": "benchmark", "title": "HTTP benchmark",
            "cart_item_ids": lines})
        self.check("create application", app["status"] == "draft", f"created: {app['status']}")
        app_id = app["id"]
        sent = self._call("submit", "POST", f"/api/v1/applications/{app_id}/submit", 200, user=t.user)
        self.check("submit", sent["status"] == "pending", f"submitted: {sent['status']}")
        todo = self._call("list tasks", "GET", "/api/v1/tasks?page_size=50", 200, user=t.approver)
        task = [x["id"] for x in todo["items"] if x["business_key"] == app_id]
        self.check("list tasks", len(task) == 1, f"no task for {app_id} in {t.approver}'s inbox ({todo['total']})")
        self._call("complete task", "POST", f"/api/v1/tasks/{task[0]}/complete", 200, user=t.approver,
                   json_body={"data": {"decision": "approve", "comment": "ok"}})
        self._call("decision", "POST", f"/api/v1/applications/{app_id}/decision", 200, user=operator,
                   json_body={"decision": "approve", "comment": None})
        done = self._call("get application", "GET", f"/api/v1/applications/{app_id}", 200, user=t.user)
        self.check("get application", done["status"] == "ordered" and bool(done.get("order")),
                   f"after the final approval: status {done['status']}, order {done.get('order')}")
