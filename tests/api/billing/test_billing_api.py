"""Billing over HTTP: price plans (staff manage, tenants read), quotes, usage ingestion, bills, lines,
analysis, CSV and adjustments; errors name the field; tenant B never sees or touches tenant A's rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.domains.billing import rating
from engine.models import ProcessInstance


@pytest.fixture
def plan(shop: Any) -> dict[str, Any]:
    body = {"code": "h100-monthly", "name": "H100 host, monthly", "target_kind": "spec",
            "target": shop.spec("gpu-h100", "h100-8"), "billing_mode": "on_demand", "unit": "month",
            "unit_price": "62000", "day_rule": "month_div_days_in_month", "proration": "hour",
            "valid_from": "2026-01-01T00:00:00+00:00"}
    resp = shop.client.post("/api/v1/price-plans", json=body, headers=shop.headers("admin"))
    assert resp.status_code == 201, resp.get_json()
    tokens = {"code": "qwen-input", "name": "Qwen input tokens", "target_kind": "component",
              "target": "input_tokens:qwen-72b", "billing_mode": "per_use", "unit": "use", "unit_price": "0.00002",
              "valid_from": "2026-01-01T00:00:00+00:00"}
    assert shop.client.post("/api/v1/price-plans", json=tokens, headers=shop.headers("admin")).status_code == 201
    return resp.get_json()


def event(n: int, **data: Any) -> dict[str, Any]:
    time = (datetime.now(UTC) - timedelta(days=1)).replace(hour=10).isoformat()
    return {"specversion": "1.0", "id": f"e-{n}", "source": "gw", "type": "aicmp.usage.model", "time": time,
            "data": {"component": "input_tokens", "quantity": "100000", "model": "qwen-72b", "provider": "vllm",
                     **data}}


def test_staff_manage_plans_and_tenants_only_read_them(shop, plan):
    assert plan["version"] == 1 and plan["unit_price"] == "62000"
    listed = shop.client.get("/api/v1/price-plans", headers=shop.headers("alpha-user")).get_json()
    assert {p["code"] for p in listed["items"]} == {"h100-monthly", "qwen-input"}
    denied = shop.client.post("/api/v1/price-plans", json={}, headers=shop.headers("alpha-admin"))
    assert denied.status_code == 403
    changed = shop.client.post(f"/api/v1/price-plans/{plan['id']}/versions", json={"unit_price": "60000"},
                               headers=shop.headers("admin"))
    assert changed.status_code == 201 and changed.get_json()["version"] == 2
    old = shop.client.get(f"/api/v1/price-plans/{plan['id']}", headers=shop.headers("alpha-user")).get_json()
    assert old["status"] == "superseded" and old["unit_price"] == "62000"


@pytest.mark.parametrize(("change", "field"), [
    ({"unit": "use"}, "unit"), ({"day_rule": "year_div_365"}, "day_rule"), ({"unit_price": "-1"}, "unit_price"),
    ({"tier_mode": "volume", "tiers": [{"up_to": "5", "price": "1"}]}, "tiers"),
    ({"target_kind": "component", "target": "teapots"}, "target")])
def test_a_bad_plan_is_refused_naming_the_field(shop, change, field):
    body = {"code": "bad", "name": "bad", "target_kind": "spec", "target": "x", "billing_mode": "on_demand",
            "unit": "month", "unit_price": "1", **change}
    resp = shop.client.post("/api/v1/price-plans", json=body, headers=shop.headers("admin"))
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["errors"][0]["field"] == field


def test_a_quote_prices_day_by_day_and_compares_day_rules(shop, plan):
    body = {"items": [{"spec_id": shop.spec("gpu-h100", "h100-8"), "quantity": 1,
                       "start": "2026-02-27T12:00:00Z", "end": "2026-03-02T00:00:00Z"}], "compare_day_rules": True}
    resp = shop.client.post("/api/v1/quotes", json=body, headers=shop.headers("alpha-user"))
    assert resp.status_code == 200, resp.get_json()
    item = resp.get_json()["items"][0]
    # 62000/28 = 2214.2857.. a day in February (half of it on the 27th), 62000/31 = 2000 in March
    assert [(ln["day"], ln["amount"]) for ln in item["lines"]] == [
        ("2026-02-27", "1107.14"), ("2026-02-28", "2214.29"), ("2026-03-01", "2000.00")]
    assert resp.get_json()["total"] == "5321.43"
    assert item["comparison"]["day_rules"]["month_div_31"] == "5000.00"
    bad = shop.client.post("/api/v1/quotes", json={"items": [{"component": "vcpu", "start": "2026-03-01T00:00:00Z",
                                                              "end": "2026-03-02T00:00:00Z"}]},
                           headers=shop.headers("alpha-user"))
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "items[0].component"


def test_usage_batches_are_idempotent_and_keep_good_events(shop, plan):
    batch = [event(1), event(2), {"specversion": "1.0", "id": "x"}, event(3, quantity="lots")]
    resp = shop.client.post("/api/v1/usage", json={"events": batch}, headers=shop.headers("alpha-admin"))
    assert resp.status_code == 200
    result = resp.get_json()
    assert (result["accepted"], result["duplicates"]) == (2, 0)
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [(2, "source"), (3, "data.quantity")]
    again = shop.client.post("/api/v1/usage", json={"events": batch[:2]}, headers=shop.headers("alpha-admin"))
    assert again.get_json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    with shop.engine.db.read() as s:  # the tenant's daily rating now runs
        assert s.scalars(select(ProcessInstance.status).where(ProcessInstance.process_key == "billing_daily",
                                                              ProcessInstance.tenant_id == shop.tenant["alpha"])
                         ).all() == ["running"]
    denied = shop.client.post("/api/v1/usage", json={"events": batch}, headers=shop.headers("alpha-user"))
    assert denied.status_code == 403
    empty = shop.client.post("/api/v1/usage", json={"events": []}, headers=shop.headers("alpha-admin"))
    assert empty.status_code == 422 and empty.get_json()["errors"]


def test_bills_lines_analysis_and_csv_are_the_tenants_own(shop, plan):
    shop.client.post("/api/v1/usage", json={"events": [event(i) for i in range(5)]},
                     headers=shop.headers("alpha-admin"))
    shop.client.post("/api/v1/usage", json={"events": [event(i, provider="sglang") for i in range(2)]},
                     headers=shop.headers("beta-admin"))
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    with shop.engine.db.write() as s:
        for tenant in ("alpha", "beta"):
            rating.rate_day(s, shop.tenant[tenant], yesterday)
    alpha, beta = shop.headers("alpha-admin"), shop.headers("beta-admin")
    bills = shop.client.get("/api/v1/bills", headers=alpha).get_json()
    assert bills["total"] == 1 and bills["items"][0]["total"] == "10.00"  # 500000 tokens x 0.00002
    bill_id = bills["items"][0]["id"]
    assert shop.client.get(f"/api/v1/bills/{bill_id}", headers=beta).status_code == 404
    assert shop.client.get(f"/api/v1/bills/lines?bill_id={bill_id}", headers=beta).status_code == 404
    lines = shop.client.get("/api/v1/bills/lines?provider=vllm", headers=alpha).get_json()
    assert lines["total"] == 1, lines
    assert lines["items"][0]["explanation"]["plan_code"] == "qwen-input", lines
    assert shop.client.get("/api/v1/bills/lines?provider=sglang", headers=alpha).get_json()["total"] == 0
    csv = shop.client.get("/api/v1/bills/lines.csv", headers=alpha)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    rows = csv.get_data(as_text=True).strip().splitlines()
    assert rows[0].startswith("bill_id,tenant_id,day") and len(rows) == 2 and ",10.00," in rows[1]
    analysis = shop.client.get("/api/v1/bills/analysis", headers=alpha).get_json()
    if yesterday.month == date.today().month:
        assert analysis["this_month"] == {"total": "10.00", "by_billing_mode": {"per_use": "10.00"}}
    assert analysis["top"]["provider"] == [{"value": "vllm", "amount": "10.00"}]
    assert "tenant_id" not in analysis["top"]
    staff = shop.client.get("/api/v1/bills/analysis", headers=shop.headers("admin")).get_json()
    assert {t["value"] for t in staff["top"]["tenant_id"]} == {shop.tenant["alpha"], shop.tenant["beta"]}


def test_only_staff_adjust_and_an_adjustment_is_a_line_with_its_reason(shop, plan):
    shop.client.post("/api/v1/usage", json={"events": [event(1)]}, headers=shop.headers("alpha-admin"))
    with shop.engine.db.write() as s:
        rating.rate_day(s, shop.tenant["alpha"], (datetime.now(UTC) - timedelta(days=1)).date())
    bill_id = shop.client.get("/api/v1/bills", headers=shop.headers("alpha-admin")).get_json()["items"][0]["id"]
    body = {"amount": "-1.50", "reason": "goodwill credit"}
    assert shop.client.post(f"/api/v1/bills/{bill_id}/adjustments", json=body,
                            headers=shop.headers("alpha-admin")).status_code == 403
    resp = shop.client.post(f"/api/v1/bills/{bill_id}/adjustments", json=body, headers=shop.headers("admin"))
    assert resp.status_code == 201 and resp.get_json()["reason"] == "goodwill credit"
    bill = shop.client.get(f"/api/v1/bills/{bill_id}", headers=shop.headers("alpha-admin")).get_json()
    assert bill["total"] == "0.50"
    bad = shop.client.post(f"/api/v1/bills/{bill_id}/adjustments", json={"amount": "0.001", "reason": "x"},
                           headers=shop.headers("admin"))
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "amount"


def test_the_application_detail_shows_its_quote_for_the_next_30_days(shop, plan):
    body = {"business_system_id": shop.system["alpha"], "purpose": "training", "title": "H100",
            "items": [{"spec_id": shop.spec("gpu-h100", "h100-8"), "quantity": 2}]}
    created = shop.client.post("/api/v1/applications", json=body, headers=shop.headers("alpha-user"))
    assert created.status_code == 201, created.get_json()
    detail = shop.client.get(f"/api/v1/applications/{created.get_json()['id']}",
                             headers=shop.headers("alpha-user")).get_json()
    quote = detail["quote"]
    assert quote["items"][0]["plan"]["plan_code"] == "h100-monthly" and quote["items"][0]["quantity"] == "2"
    assert len(quote["items"][0]["lines"]) in (30, 31)  # 30 days from now: 31 calendar days unless at midnight
    priced = shop.client.post("/api/v1/quotes", json={"application_id": created.get_json()["id"],
                                                      "start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"},
                              headers=shop.headers("alpha-user")).get_json()
    assert priced["total"] == "4000.00"  # 2 x 62000 / 31
    other = shop.client.post("/api/v1/quotes", json={"application_id": created.get_json()["id"],
                                                     "start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"},
                             headers=shop.headers("beta-user"))
    assert other.status_code == 404


@pytest.mark.postgres
def test_usage_rating_and_bills_on_postgresql(postgres_database_url, tmp_path):
    from api import create_app
    from tests.api.conftest import Shop, make_api_engine

    eng = make_api_engine(postgres_database_url, tmp_path)
    try:
        shop = Shop(create_app(engine=eng).test_client(), eng)
        admin = shop.headers("admin")
        tokens = {"code": "qwen-input", "name": "Qwen input tokens", "target_kind": "component",
                  "target": "input_tokens:qwen-72b", "billing_mode": "per_use", "unit": "use",
                  "unit_price": "0.00002", "valid_from": "2026-01-01T00:00:00+00:00"}
        assert shop.client.post("/api/v1/price-plans", json=tokens, headers=admin).status_code == 201
        batch = [event(i) for i in range(3)]
        first = shop.client.post("/api/v1/usage", json={"events": batch}, headers=shop.headers("alpha-admin"))
        again = shop.client.post("/api/v1/usage", json={"events": batch}, headers=shop.headers("alpha-admin"))
        assert (first.get_json()["accepted"], again.get_json()["duplicates"]) == (3, 3)
        with eng.db.write() as s:
            rating.rate_day(s, shop.tenant["alpha"], (datetime.now(UTC) - timedelta(days=1)).date())
        bills = shop.client.get("/api/v1/bills", headers=shop.headers("alpha-admin")).get_json()
        assert bills["items"][0]["total"] == "6.00"
        assert shop.client.get("/api/v1/bills", headers=shop.headers("beta-admin")).get_json()["total"] == 0
    finally:
        eng.close()


def test_a_tenants_own_price_and_discount_are_hidden_from_other_tenants(shop, plan):
    own = {"code": "alpha-h100", "name": "Alpha's H100 price", "tenant_id": shop.tenant["alpha"], "target_kind": "spec",
           "target": shop.spec("gpu-h100", "h100-8"), "billing_mode": "on_demand", "unit": "month",
           "unit_price": "50000"}
    created = shop.client.post("/api/v1/price-plans", json=own, headers=shop.headers("admin")).get_json()
    discount = {"tenant_id": shop.tenant["alpha"], "kind": "percent", "value": "10", "reason": "framework deal"}
    assert shop.client.post("/api/v1/price-plans/discounts", json=discount,
                            headers=shop.headers("admin")).status_code == 201
    assert shop.client.get(f"/api/v1/price-plans/{created['id']}", headers=shop.headers("beta-user")).status_code == 404
    beta_codes = {p["code"] for p in shop.client.get("/api/v1/price-plans",
                                                     headers=shop.headers("beta-user")).get_json()["items"]}
    assert "alpha-h100" not in beta_codes and "h100-monthly" in beta_codes
    assert shop.client.get("/api/v1/price-plans/discounts", headers=shop.headers("beta-admin")).get_json() == []
    assert len(shop.client.get("/api/v1/price-plans/discounts", headers=shop.headers("alpha-admin")).get_json()) == 1
    bad = shop.client.post("/api/v1/price-plans/discounts", json={**discount, "value": "120"},
                           headers=shop.headers("admin"))
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "value"


def test_the_order_records_which_plan_priced_each_line(shop, plan):
    """The order process records each line's plan when the order is placed; a later version of the
    plan leaves what the order recorded alone; a line no plan prices says so."""
    user, approver, operator = shop.headers("alpha-user"), shop.headers("alpha-approver"), shop.headers("operator")
    body = {"business_system_id": shop.system["alpha"], "purpose": "training", "title": "H100 and A100",
            "items": [{"spec_id": shop.spec("gpu-h100", "h100-8"), "quantity": 1},
                      {"spec_id": shop.spec("gpu-a100", "a100-1"), "quantity": 1}], "submit": True}
    created = shop.client.post("/api/v1/applications", json=body, headers=user)
    assert created.status_code == 201, created.get_json()
    app_id = created.get_json()["id"]
    for who in (approver, operator):
        decided = shop.client.post(f"/api/v1/applications/{app_id}/decision", headers=who,
                                   json={"decision": "approve", "comment": None})
        assert decided.status_code == 200, decided.get_json()
    newer = {"name": "H100 host, monthly", "billing_mode": "on_demand", "unit": "month", "unit_price": "70000",
             "day_rule": "month_div_days_in_month", "proration": "hour"}
    bumped = shop.client.post(f"/api/v1/price-plans/{plan['id']}/versions", json=newer, headers=shop.headers("admin"))
    assert bumped.status_code in (200, 201), bumped.get_json()

    detail = shop.client.get(f"/api/v1/applications/{app_id}", headers=user).get_json()
    assert detail["status"] == "ordered"
    pricing = detail["order_pricing"]
    assert [(p["plan_code"], p["plan_version"]) for p in pricing] == [("h100-monthly", 1), (None, None)]
    assert pricing[0]["chosen"]["chosen"] == "list price on the spec"
    assert "no valid price plan" in pricing[1]["chosen"]["chosen"]
    other = shop.client.get(f"/api/v1/applications/{app_id}", headers=shop.headers("beta-user"))
    assert other.status_code == 404
