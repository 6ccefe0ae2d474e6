"""The README's voucher example over HTTP: after the billing example's March bill (29,292.00, closed),
the operator opens alpha's account and charges the bill, sets the year's budget and a campaign
(10,000.00 vouchers covering at most 30 % of a bill); alpha claims one, redeems it against the March
bill, the operator approves, and the account, the voucher and the overview show the credit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine import clock
from tests.api.billing.test_readme_example import test_the_readme_example_quote_is_the_bill as billing_example


def call(shop: Any, method: str, url: str, user: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
    resp = shop.client.open(f"/api/v1{url}", method=method, json=body, headers=shop.headers(user))
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def test_the_readme_example_redeems_a_voucher_against_the_pricing_examples_bill(shop: Any) -> None:
    billing_example(shop)
    alpha = shop.tenant["alpha"]
    bill = call(shop, "GET", "/bills?period=2026-03", "alpha-admin")["items"][0]
    assert (bill["status"], bill["total"]) == ("closed", "29292.00")

    call(shop, "POST", "/accounts", "operator", {"tenant_id": alpha, "credit_limit": "50000.00"}, 201)
    charge = call(shop, "POST", f"/accounts/{alpha}/charges", "operator", {"bill_id": bill["id"]}, 201)
    assert (charge["kind"], charge["amount"], charge["balance_after"]) == ("charge", "-29292.00", "-29292.00")

    now = clock.now()
    call(shop, "PUT", f"/vouchers/budgets/{now.year}", "operator", {"amount": "5000000.00"})
    campaign = call(shop, "POST", "/vouchers/campaigns", "operator", {
        "year": now.year, "code": "ai-compute", "name": "AI compute vouchers", "face_value": "10000.00",
        "total_count": 100, "per_tenant_limit": 1, "claim_starts_at": now.isoformat(),
        "claim_ends_at": (now + timedelta(days=90)).isoformat(), "validity_days": 365, "redemption_ratio": "0.30",
        "frequency": "monthly"}, 201)
    assert campaign["left"] == 100

    voucher = call(shop, "POST", "/vouchers/claims", "alpha-admin", {"campaign_id": campaign["id"],
                                                                     "request_id": "readme"}, 201)
    redemption = call(shop, "POST", "/vouchers/redemptions", "alpha-admin",
                      {"voucher_id": voucher["id"], "bill_id": bill["id"]}, 201)
    assert (redemption["status"], redemption["held"]) == ("held", "8787.60")  # 29,292.00 x 0.30
    done = call(shop, "POST", f"/vouchers/redemptions/{redemption['id']}/decision", "operator",
                {"decision": "approve", "comment": "within the 2026 policy"})
    assert (done["status"], done["applied"]) == ("applied", "8787.60")

    account = call(shop, "GET", f"/accounts/{alpha}", "alpha-admin")
    assert account["balance"] == "-20504.40"
    assert call(shop, "GET", f"/vouchers/{voucher['id']}", "alpha-admin")["remaining"] == "1212.40"
    history = call(shop, "GET", f"/accounts/{alpha}/ledger", "alpha-admin")["items"]
    assert [(e["kind"], e["amount"]) for e in history] == [("voucher_credit", "8787.60"), ("charge", "-29292.00")]
    year = call(shop, "GET", f"/vouchers/overview?year={now.year}", "operator")["years"][0]
    assert (year["budget"], year["issued"], year["claimed"], year["redeemed"]) == (
        "5000000.00", "1000000.00", "10000.00", "8787.60")
