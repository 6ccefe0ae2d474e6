"""Accounts and vouchers over HTTP, logged in through the real login endpoint on the seeded demo
data and the product processes (voucher_redemption among them): the operator opens accounts, sets
the budget and a campaign; a tenant claims in the voucher centre (idempotently), redeems against a
closed bill, the operator approves through the process, and the ledger, the voucher and the
overview (JSON and CSV) show it. Bad input is a 4xx naming the field; tenant B sees and touches
nothing of tenant A's; the redemption process cannot be started through /process-instances."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from engine import clock
from engine.core import Engine
from tests.api.conftest import Demo, login


class Shop:
    def __init__(self, client: FlaskClient, engine: Engine) -> None:
        self.client, self.engine, self.demo = client, engine, Demo(engine)
        self._headers: dict[str, dict[str, str]] = {}

    def headers(self, user: str) -> dict[str, str]:
        if user not in self._headers:
            self._headers[user] = login(self.client, user)
        return self._headers[user]

    def call(self, method: str, path: str, user: str, status: int, **kwargs: Any) -> Any:
        resp = self.client.open(f"/api/v1{path}", method=method, headers=self.headers(user), **kwargs)
        assert resp.status_code == status, (resp.status_code, resp.get_json())
        return resp.get_json() if resp.is_json else resp

    def bill(self, tenant: str, period: str, total: str) -> str:
        from engine.domains.billing.models import Bill, BillLine

        tid = self.demo.tenant[tenant]
        with self.engine.db.write() as s:
            bill = Bill(tenant_id=tid, period=period, status="closed", total=Decimal(total), closed_at=clock.now())
            s.add(bill)
            s.flush()
            year, month = (int(p) for p in period.split("-"))
            s.add(BillLine(bill_id=bill.id, tenant_id=tid, day=clock.now().date().replace(year=year, month=month,
                                                                                              day=1),
                           kind="rated", source="usage", line_key="gpu", target_key="gpu", component="gpu-hours",
                           amount=Decimal(total)))
            return bill.id


@pytest.fixture
def shop(client: FlaskClient, api_engine: Engine) -> Shop:
    return Shop(client, api_engine)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_shop(request: pytest.FixtureRequest) -> Shop:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return Shop(request.getfixturevalue("client"), request.getfixturevalue("api_engine"))
    return Shop(request.getfixturevalue("pg_client"), request.getfixturevalue("pg_api_engine"))


def campaign_body(**more: Any) -> dict[str, Any]:
    now = clock.now()
    return {"year": now.year, "code": "spring", "name": "Spring compute vouchers", "face_value": "1000.00",
            "total_count": 5, "per_tenant_limit": 2, "claim_starts_at": (now - timedelta(hours=1)).isoformat(),
            "claim_ends_at": (now + timedelta(days=30)).isoformat(), "validity_days": 90, "redemption_ratio": "0.30",
            "frequency": "monthly", **more}


def setup(shop: Shop) -> dict[str, Any]:
    year = clock.now().year
    for tenant in ("alpha", "beta"):
        shop.call("POST", "/accounts", "operator", 201, json={"tenant_id": shop.demo.tenant[tenant]})
    shop.call("PUT", f"/vouchers/budgets/{year}", "operator", 200, json={"amount": "100000.00"})
    return shop.call("POST", "/vouchers/campaigns", "operator", 201, json=campaign_body())


def test_from_campaign_to_claim_to_redemption_to_the_ledger(any_shop: Shop) -> None:
    shop = any_shop
    campaign = setup(shop)
    alpha = shop.demo.tenant["alpha"]
    centre = shop.call("GET", "/vouchers/campaigns?open_now=true&q=spring", "alpha-admin", 200)
    assert [c["code"] for c in centre["items"]] == ["spring"] and "tenant_ids" not in centre["items"][0]
    body = {"campaign_id": campaign["id"], "request_id": "first"}
    voucher = shop.call("POST", "/vouchers/claims", "alpha-admin", 201, json=body)
    assert shop.call("POST", "/vouchers/claims", "alpha-admin", 200, json=body)["id"] == voucher["id"]
    assert voucher["available"] == "1000.00" and voucher["status"] == "active"
    bill = shop.bill("alpha", "2026-01", "2000.00")

    r = shop.call("POST", "/vouchers/redemptions", "alpha-admin", 201,
                  json={"voucher_id": voucher["id"], "bill_id": bill})
    assert (r["status"], r["held"], r["quoted"]) == ("held", "600.00", "600.00") and r["review_task_id"]
    task = shop.call("GET", f"/tasks/{r['review_task_id']}", "operator", 200)
    assert task["task"]["task_spec"] == "review"
    done = shop.call("POST", f"/vouchers/redemptions/{r['id']}/decision", "operator", 200,
                     json={"decision": "reduce", "amount": "500.00", "comment": "cap for Q1"})
    assert (done["status"], done["applied"], done["decided_by"]) == ("applied", "500.00", "operator")

    account = shop.call("GET", f"/accounts/{alpha}", "alpha-admin", 200)
    assert account["balance"] == "500.00"
    ledger = shop.call("GET", f"/accounts/{alpha}/ledger", "alpha-user", 200)
    assert [(e["kind"], e["amount"], e["reference_id"]) for e in ledger["items"]] == [
        ("voucher_credit", "500.00", r["id"])]
    assert shop.call("GET", f"/accounts/{alpha}/verify", "operator", 200)["ledger_sum"] == "500.00"
    mine = shop.call("GET", "/vouchers", "alpha-user", 200)
    assert [(v["remaining"], v["held"]) for v in mine["items"]] == [("500.00", "0.00")]

    overview = shop.call("GET", "/vouchers/overview", "operator", 200)
    assert overview["years"][0]["redeemed"] == "500.00" and overview["years"][0]["claimed"] == "1000.00"
    assert overview["campaigns"][0]["issued"] == "5000.00"
    assert [(t["tenant_id"], t["redeemed"]) for t in overview["tenants"]] == [(alpha, "500.00")]
    resp = shop.call("GET", "/vouchers/overview.csv", "operator", 200)
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[0][:3] == ["level", "year", "campaign"] and ["campaign", str(clock.now().year), "spring"] == rows[2][:3]


def test_tenant_b_sees_and_touches_nothing_of_tenant_as(any_shop: Shop) -> None:
    shop = any_shop
    campaign = setup(shop)
    alpha = shop.demo.tenant["alpha"]
    voucher = shop.call("POST", "/vouchers/claims", "alpha-admin", 201, json={"campaign_id": campaign["id"]})
    bill = shop.bill("alpha", "2026-01", "100.00")
    r = shop.call("POST", "/vouchers/redemptions", "alpha-admin", 201,
                  json={"voucher_id": voucher["id"], "bill_id": bill})
    shop.call("GET", f"/accounts/{alpha}", "beta-admin", 404)
    shop.call("GET", f"/accounts/{alpha}/ledger", "beta-admin", 404)
    shop.call("GET", f"/vouchers/{voucher['id']}", "beta-admin", 404)
    shop.call("GET", f"/vouchers/redemptions/{r['id']}", "beta-admin", 404)
    assert shop.call("GET", "/vouchers", "beta-admin", 200)["total"] == 0
    assert shop.call("GET", "/vouchers/redemptions", "beta-admin", 200)["total"] == 0
    assert shop.call("GET", "/accounts", "beta-admin", 200)["total"] == 1
    shop.call("POST", "/vouchers/redemptions", "beta-admin", 422, json={"voucher_id": voucher["id"], "bill_id": bill})
    shop.call("POST", f"/vouchers/redemptions/{r['id']}/decision", "beta-admin", 403, json={"decision": "approve"})
    shop.call("POST", f"/accounts/{alpha}/entries", "alpha-admin", 403,
              json={"kind": "topup", "amount": "1.00", "reason": "me"})
    shop.call("POST", "/vouchers/campaigns", "alpha-admin", 403, json=campaign_body(code="mine"))
    shop.call("GET", "/vouchers/overview", "alpha-admin", 403)


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/vouchers/campaigns", campaign_body(redemption_ratio="1.2"), "redemption_ratio"),
    ("/vouchers/campaigns", campaign_body(face_value="10.001"), "face_value"),
    ("/vouchers/campaigns", campaign_body(frequency="weekly"), "frequency"),
    ("/vouchers/campaigns", {"code": "x"}, "year"),
])
def test_bad_campaigns_are_422_naming_the_field(shop: Shop, path: str, body: dict[str, Any], field: str) -> None:
    setup(shop)
    resp = shop.call("POST", path, "operator", 422, json=body)
    assert any(field in str(e.get("field", "")) or field in str(e) for e in (resp.get("errors") or [resp])), resp


def test_bad_amounts_are_422_and_change_nothing(shop: Shop) -> None:
    setup(shop)
    alpha = shop.demo.tenant["alpha"]
    for amount in ("1.001", "-3", "abc"):
        resp = shop.call("POST", f"/accounts/{alpha}/entries", "operator", 422,
                         json={"kind": "topup", "amount": amount, "reason": "x"})
        assert resp["errors"][0]["field"] == "amount"
    resp = shop.call("POST", f"/accounts/{alpha}/entries", "operator", 422, json={"kind": "charge", "amount": "1",
                                                                                  "reason": "x"})
    assert shop.call("GET", f"/accounts/{alpha}", "operator", 200)["entries"] == 0
    over = shop.call("POST", f"/accounts/{alpha}/entries", "operator", 409,
                     json={"kind": "adjustment", "amount": "-0.01", "reason": "below the limit"})
    assert over["errors"][0]["field"] == "amount"


def test_a_campaign_beyond_the_budget_is_409(shop: Shop) -> None:
    setup(shop)  # 5 x 1000 of 100,000 committed
    resp = shop.call("POST", "/vouchers/campaigns", "operator", 409,
                     json=campaign_body(code="big", total_count=96))
    assert resp["errors"][0]["remaining"] == "95000.00"


def test_the_redemption_process_is_not_startable_through_the_api(shop: Shop) -> None:
    for key in ("voucher_redemption", "voucher_expiry"):
        shop.call("POST", "/process-instances", "alpha-admin", 403,
                  json={"key": key, "variables": {"redemption_id": "x"}})
