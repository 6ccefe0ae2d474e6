"""The README's billing example, step by step over HTTP: an H100 host on a monthly plan started
mid-month and a token-metered model service; the quote beside the bill, to the cent."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from engine import clock
from engine.domains.billing import rating, resources

START, END = "2026-03-17T09:30:00+00:00", "2026-04-01T00:00:00+00:00"


def post(shop: Any, url: str, body: dict[str, Any], user: str) -> Any:
    resp = shop.client.post(url, json=body, headers=shop.headers(user))
    assert resp.status_code in (200, 201), resp.get_json()
    return resp.get_json()


def test_the_readme_example_quote_is_the_bill(shop: Any) -> None:
    h100 = shop.spec("gpu-h100", "h100-8")
    for code, kind, target, mode, unit, price, extra in (
            ("h100-monthly", "spec", h100, "on_demand", "month", "62000",
             {"day_rule": "month_div_days_in_month", "proration": "hour"}),
            ("qwen-input", "component", "input_tokens:qwen-72b", "per_use", "use", "0.00002", {}),
            ("qwen-output", "component", "output_tokens:qwen-72b", "per_use", "use", "0.00006", {})):
        post(shop, "/api/v1/price-plans", {"code": code, "name": code, "target_kind": kind, "target": target,
                                           "billing_mode": mode, "unit": unit, "unit_price": price,
                                           "valid_from": "2026-01-01T00:00:00Z", **extra}, "admin")
    day = {"start": "2026-03-18T00:00:00Z", "end": "2026-03-19T00:00:00Z"}
    quote = post(shop, "/api/v1/quotes", {"compare_day_rules": True, "items": [
        {"spec_id": h100, "start": START, "end": END},
        {"component": "input_tokens:qwen-72b", "quantity": "1200000", **day},
        {"component": "output_tokens:qwen-72b", "quantity": "300000", **day}]}, "alpha-admin")
    host = quote["items"][0]
    assert quote["total"] == "29292.00"
    assert (host["lines"][0]["amount"], host["lines"][1]["amount"], host["total"]) == ("1250.00", "2000.00",
                                                                                       "29250.00")
    assert host["comparison"]["day_rules"] == {
        "month_div_31": "29250.00", "month_div_days_in_month": "29250.00", "month_x12_div_365": "29811.01",
        "month_x12_div_days_in_year": "29811.01"}

    # the bill: the host runs from START (billing/start), the gateway reports the tokens, the days are rated
    alpha = shop.tenant["alpha"]
    previous = clock.use(clock.FrozenClock(datetime(2026, 4, 1, 1, tzinfo=UTC)))
    try:
        with shop.engine.db.write() as s:
            resources.start(s, alpha, resource_ref="host-1", spec_id=h100, started_at=datetime.fromisoformat(START))
        usage = [{"specversion": "1.0", "id": f"u{i}", "source": "gateway", "type": "aicmp.usage.model",
                  "time": "2026-03-18T10:00:00Z",
                  "data": {"component": c, "quantity": q, "model": "qwen-72b"}}
                 for i, (c, q) in enumerate((("input_tokens", "1200000"), ("output_tokens", "300000")))]
        assert post(shop, "/api/v1/usage", {"events": usage}, "alpha-admin")["accepted"] == 2
        with shop.engine.db.write() as s:
            d = date(2026, 3, 17)
            while d < date(2026, 4, 1):
                rating.close_day(s, alpha, d)
                d += timedelta(days=1)
    finally:
        clock.use(previous)
    bill = shop.client.get("/api/v1/bills?period=2026-03", headers=shop.headers("alpha-admin")).get_json()["items"][0]
    assert (bill["status"], bill["total"]) == ("closed", quote["total"])
