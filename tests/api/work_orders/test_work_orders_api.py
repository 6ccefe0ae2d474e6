"""Work orders over HTTP, logged in through the real login endpoint on the seeded demo data and the
product's processes (work_order among them), called by a process of the platform the way
provisioning and termination call it: operations find the work in their inbox, claim it (the list
shows it claimed), return the form; the applicant accepts in theirs. The list filters (status, kind,
order, resource, creation window), pages and exports CSV; bad filters are a 422 naming the field;
tenant B sees nothing of tenant A's; the process cannot be started through /process-instances."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import clock
from engine.core import Engine
from engine.domains.applications.models import Application
from engine.domains.orders.models import Order
from engine.domains.resources.models import CloudAccount, CloudResource
from engine.models import BusinessSystem, ProcessInstance, User
from tests.api.conftest import Demo, login
from tests.domains.work_orders.work_order_world import caller_bpmn

CALLER = "wo_api_caller"
CALLER_BPMN = caller_bpmn(CALLER)


class Desk:
    """The seeded API, a platform process that opens work orders, and the users who work them."""

    def __init__(self, client: FlaskClient, engine: Engine) -> None:
        self.client, self.engine, self.demo = client, engine, Demo(engine)
        engine.registry.deploy({f"{CALLER}.bpmn": CALLER_BPMN}, actor="test")
        engine.runtime.internal_keys.add(CALLER)
        self._headers: dict[str, dict[str, str]] = {}
        self._n = 0

    def headers(self, user: str) -> dict[str, str]:
        if user not in self._headers:
            self._headers[user] = login(self.client, user)
        return self._headers[user]

    def call(self, method: str, path: str, user: str, status: int, **kwargs: Any) -> Any:
        resp = self.client.open(f"/api/v1{path}", method=method, headers=self.headers(user), **kwargs)
        assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:500])
        return resp.get_json() if resp.is_json else resp

    def order(self, tenant: str = "alpha", applicant: str = "alpha-user") -> str:
        self._n += 1
        tid = self.demo.tenant[tenant]
        with self.engine.db.write() as s:
            user = s.scalars(select(User).where(User.username == applicant)).one()
            system = s.scalar(select(BusinessSystem.id).where(BusinessSystem.tenant_id == tid).limit(1))
            app = Application(tenant_id=tid, number=f"AP-API-{self._n}", title="Licence", applicant_id=user.id,
                              applicant=user.username, organization_id=user.organization_id,
                              business_system_id=system, status="ordered", quota_state="committed")
            s.add(app)
            s.flush()
            order = Order(tenant_id=tid, number=f"OR-API-{self._n}", application_id=app.id,
                          organization_id=user.organization_id, business_system_id=system, applicant=user.username)
            s.add(order)
            s.flush()
            return order.id

    def resource(self, tenant: str = "alpha") -> str:
        tid = self.demo.tenant[tenant]
        with self.engine.db.write() as s:
            account = CloudAccount(tenant_id=tid, owner_key=tid, name=f"lab-{tenant}", provider_type="simulator",
                                   credentials=b"sealed", key_id="test")
            s.add(account)
            s.flush()
            res = CloudResource(account_id=account.id, tenant_id=tid, provider_id="vm-1", name="vm-1",
                                status="running")
            s.add(res)
            s.flush()
            return res.id

    def open(self, source_key: str, *, tenant: str = "alpha", initiator: str = "alpha-user", **request: Any
             ) -> ProcessInstance:
        values = {"kind": "delivery", "title": "Install a licence server", "details": {"seats": 5},
                  "source_key": source_key, **request}
        return self.engine.runtime.start(CALLER, tenant_id=self.demo.tenant[tenant], initiator=initiator,
                                         business_key=source_key, variables={"work_order_request": values})

    def only(self, user: str, path: str = "/work-orders") -> dict[str, Any]:
        page = self.call("GET", path, user, 200)
        assert page["total"] == 1, page
        return page["items"][0]


@pytest.fixture
def desk(client: FlaskClient, api_engine: Engine) -> Desk:
    return Desk(client, api_engine)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_desk(request: pytest.FixtureRequest) -> Desk:
    if request.param == "sqlite":
        return Desk(request.getfixturevalue("client"), request.getfixturevalue("api_engine"))
    return Desk(request.getfixturevalue("pg_client"), request.getfixturevalue("pg_api_engine"))


def test_operations_claim_and_return_the_form_in_the_inbox_and_the_applicant_accepts(any_desk: Desk) -> None:
    desk = any_desk
    caller = desk.open("prov:u1:1", order_id=desk.order(), unit_id="u1")
    wo = desk.only("operator")
    assert (wo["status"], wo["kind"], wo["applicant"], wo["unit_id"]) == ("open", "delivery", "alpha-user", "u1")
    todo = desk.call("GET", "/tasks", "operator", 200)["items"]
    assert [(t["id"], t["task_spec"]) for t in todo] == [(wo["task_id"], "deliver")]
    form = desk.call("GET", f"/tasks/{wo['task_id']}", "operator", 200)
    assert form["schema"]["required"] == ["result"] and form["data"]["result"] == "done"

    desk.call("POST", f"/tasks/{wo['task_id']}/claim", "operator", 200)
    claimed = desk.call("GET", f"/work-orders/{wo['id']}", "alpha-admin", 200)
    assert (claimed["status"], claimed["claimed_by"]) == ("claimed", "operator")
    assert desk.call("GET", "/work-orders?status=claimed", "operator", 200)["total"] == 1
    assert desk.call("GET", "/work-orders?status=open", "operator", 200)["total"] == 0
    bad = desk.call("POST", f"/tasks/{wo['task_id']}/complete", "operator", 422,
                    json={"data": {"result": "done", "work_order": {"work_order_id": "someone else's"}}})
    assert any(e.get("path") == "$.work_order" for e in bad["errors"])  # no process variable through the form
    desk.call("POST", f"/tasks/{wo['task_id']}/complete", "operator", 200,
              json={"data": {"result": "done", "notes": "installed", "resource": {"provider_id": "lic-1"}}})

    done = desk.call("GET", f"/work-orders/{wo['id']}", "alpha-user", 200)
    assert (done["status"], done["assignee"], done["result"]["notes"]) == ("done", "operator", "installed")
    mine = desk.call("GET", "/tasks", "alpha-user", 200)["items"]
    assert [(t["id"], t["task_spec"]) for t in mine] == [(done["task_id"], "evaluate")]
    desk.call("POST", f"/tasks/{done['task_id']}/complete", "alpha-user", 200,
              json={"data": {"evaluation": "accept"}})
    closed = desk.call("GET", f"/work-orders/{wo['id']}", "operator", 200)
    assert (closed["status"], closed["evaluated_by"], closed["task_id"]) == ("accepted", "alpha-user", None)
    with desk.engine.db.read() as s:
        assert s.get(ProcessInstance, caller.id).status == "completed"


def test_the_list_filters_pages_and_exports_csv(desk: Desk, frozen_clock) -> None:
    first_order, resource = desk.order(), desk.resource()
    desk.open("a:1", order_id=first_order, title="=HYPERLINK(\"x\")")
    frozen_clock.advance(timedelta(hours=1))
    middle = clock.now()
    desk.open("a:2", kind="failure", title="Delete vm-1 by hand", resource_id=resource)
    frozen_clock.advance(timedelta(hours=1))
    desk.open("a:3", order_id=desk.order())

    everything = desk.call("GET", "/work-orders", "operator", 200)
    assert everything["total"] == 3 and [w["kind"] for w in everything["items"]] == ["delivery", "failure",
                                                                                      "delivery"]
    assert [w["title"] for w in desk.call("GET", "/work-orders?kind=failure", "operator", 200)["items"]] == [
        "Delete vm-1 by hand"]
    by_order = desk.call("GET", f"/work-orders?order_id={first_order}", "alpha-admin", 200)["items"]
    assert [w["order_id"] for w in by_order] == [first_order]
    by_resource = desk.call("GET", f"/work-orders?resource_id={resource}", "alpha-admin", 200)["items"]
    assert [w["resource_id"] for w in by_resource] == [resource]
    window = desk.client.get("/api/v1/work-orders", headers=desk.headers("operator"),
                             query_string={"created_from": middle.isoformat(),
                                           "created_to": (middle + timedelta(minutes=30)).isoformat()}).get_json()
    assert [w["kind"] for w in window["items"]] == ["failure"]
    paged = desk.call("GET", "/work-orders?page=2&page_size=2", "operator", 200)
    assert (paged["total"], len(paged["items"]), paged["page"]) == (3, 1, 2)
    assert desk.call("GET", "/work-orders?status=open&kind=delivery", "operator", 200)["total"] == 2
    assert desk.call("GET", "/work-orders?status=accepted", "operator", 200)["total"] == 0

    resp = desk.call("GET", "/work-orders/export.csv?kind=delivery", "alpha-admin", 200)
    assert resp.mimetype == "text/csv" and "work-orders.csv" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[0][:5] == ["number", "tenant_id", "kind", "status", "title"] and len(rows) == 3
    assert rows[2][4] == "'=HYPERLINK(\"x\")"  # a spreadsheet shows it as text, never runs it
    assert {r[2] for r in rows[1:]} == {"delivery"}


def test_tenant_b_sees_nothing_of_tenant_as(any_desk: Desk) -> None:
    desk = any_desk
    desk.open("a:1", order_id=desk.order())
    wo = desk.only("alpha-admin")
    alpha = desk.demo.tenant["alpha"]
    desk.call("GET", f"/work-orders/{wo['id']}", "beta-admin", 404)
    assert desk.call("GET", "/work-orders", "beta-admin", 200)["total"] == 0
    assert desk.call("GET", f"/work-orders?tenant_id={alpha}", "beta-admin", 200)["total"] == 0
    rows = list(csv.reader(io.StringIO(desk.call("GET", "/work-orders/export.csv", "beta-admin", 200)
                                       .get_data(as_text=True))))
    assert len(rows) == 1  # the header only
    assert desk.call("GET", "/tasks", "beta-admin", 200)["total"] == 0
    desk.call("POST", f"/tasks/{wo['task_id']}/claim", "beta-admin", 404)
    desk.call("POST", f"/tasks/{wo['task_id']}/complete", "beta-admin", 404, json={"data": {"result": "done"}})
    # the applicant's evaluation is theirs alone: not another alpha user's, not beta's
    desk.call("POST", f"/tasks/{wo['task_id']}/complete", "operator", 200, json={"data": {"result": "done"}})
    evaluate = desk.call("GET", f"/work-orders/{wo['id']}", "alpha-user", 200)["task_id"]
    desk.call("POST", f"/tasks/{evaluate}/complete", "beta-admin", 404, json={"data": {"evaluation": "accept"}})
    desk.call("POST", f"/tasks/{evaluate}/complete", "alpha-admin", 404, json={"data": {"evaluation": "accept"}})
    # staff may narrow to one tenant
    assert desk.call("GET", f"/work-orders?tenant_id={alpha}", "operator", 200)["total"] == 1
    assert desk.call("GET", f"/work-orders?tenant_id={desk.demo.tenant['beta']}", "operator", 200)["total"] == 0


@pytest.mark.parametrize(("query", "field"), [
    ("status=bogus", "status"), ("kind=repair", "kind"), ("created_from=yesterday", "created_from"),
    ("created_from=2026-03-02T10:00:00", "created_from"), ("page_size=0", "page_size"),
    ("created_from=2026-03-02T10:00:00%2B00:00&created_to=2026-03-01T10:00:00%2B00:00", "created_to"),
])
def test_bad_filters_are_422_naming_the_field(desk: Desk, query: str, field: str) -> None:
    for path in ("/work-orders", "/work-orders/export.csv"):
        if field == "page_size" and path.endswith(".csv"):
            continue
        body = desk.call("GET", f"{path}?{query}", "operator", 422)
        assert body["code"] and field in str(body["errors"]), body


def test_who_may_read_work_orders(desk: Desk) -> None:
    desk.open("a:1", order_id=desk.order(applicant="alpha-admin"), initiator="alpha-admin")
    assert desk.call("GET", "/work-orders", "alpha-user", 200)["total"] == 0  # not the applicant: scope "mine"
    assert desk.call("GET", "/work-orders", "alpha-admin", 200)["total"] == 1
    desk.call("GET", "/work-orders", "designer", 403)
    assert desk.client.get("/api/v1/work-orders").status_code == 401


def test_the_work_order_process_is_not_startable_through_the_api(desk: Desk) -> None:
    desk.call("POST", "/process-instances", "alpha-admin", 403,
              json={"key": "work_order", "variables": {"work_order_request": {"kind": "delivery"}}})
