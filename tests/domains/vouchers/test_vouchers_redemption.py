"""Redemption through the real ``voucher_redemption`` process on a real database: the quote under the
ratio (billing's rounding), the eligible lines, the frequency and the voucher's value; the operator's
review (approve, reduce, reject) and the credit applied to the voucher and the tenant's ledger in one
transaction; every decision audited; another tenant's voucher or bill unknown; the process not
startable through the API. 50 redemptions at once of one voucher, and of one bill, on PostgreSQL
never exceed the voucher's value, the ratio or the bill, and would without the locks."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.domains.accounts import service as accounts
from engine.domains.vouchers import claims, redemptions
from engine.domains.vouchers.locks import Locking
from engine.domains.vouchers.models import Redemption, Voucher
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.models import AuditEntry
from engine.runtime.start_policy import api_start_check
from tests.domains.vouchers.voucher_world import World


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path, frozen) -> Iterator[World]:
    """The same test on SQLite and on PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'aicmp.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_database_url")
    w = World(url, tmp_path)
    w.open_accounts()
    yield w
    w.close()


@pytest.fixture
def pg_world(tmp_path: Path, postgres_database_url: str, frozen) -> Iterator[World]:
    w = World(postgres_database_url, tmp_path)
    w.open_accounts()
    yield w
    w.close()


def voucher(w: World, who=None, **campaign) -> dict:
    c = w.campaign(**campaign)
    return claims.claim(w.engine, who or w.alpha, c["id"])[0]


def test_quote_review_approve_credits_the_voucher_and_the_account_atomically(world: World) -> None:
    w = world
    v = voucher(w, face_value="1000.00", redemption_ratio="0.30")
    bill = w.bill("alpha", "2026-02", {"gpu-hours": "2000.00", "storage": "500.00"})
    r = redemptions.request(w.engine, w.alpha, voucher_id=v["id"], bill_id=bill)
    assert (r["status"], r["quoted"], r["held"], r["period"]) == ("held", Decimal("750.00"), Decimal("750.00"),
                                                                  "2026-02")
    assert r["review_task_id"] is not None
    assert claims.get_voucher(w.engine, w.alpha, v["id"])["available"] == Decimal("250.00")
    with pytest.raises(Forbidden):  # the tenant is not the reviewer
        redemptions.decide(w.engine, w.alpha, r["id"], decision="approve")
    done = redemptions.decide(w.engine, w.operator, r["id"], decision="approve", comment="policy 2026-7")
    assert (done["status"], done["applied"], done["held"], done["decided_by"]) == (
        "applied", Decimal("750.00"), Decimal("0.00"), "operator")
    shown = claims.get_voucher(w.engine, w.alpha, v["id"])
    assert (shown["remaining"], shown["held"], shown["status"]) == (Decimal("250.00"), Decimal("0.00"), "active")
    account = accounts.get_account(w.engine, w.alpha)
    assert account["balance"] == Decimal("750.00")
    [entry], _ = accounts.history(w.engine, w.alpha)
    assert (entry["kind"], entry["reference_type"], entry["reference_id"]) == ("voucher_credit", "redemption", r["id"])
    with w.engine.db.read() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == r["id"])
                                 .order_by(AuditEntry.id)))
        assert actions == ["voucher.redemption.request", "voucher.redemption.hold", "voucher.redemption.apply"]
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.target_id == entry["id"])) == "ledger.voucher_credit"


def test_reduce_applies_less_and_reject_releases_the_hold(world: World) -> None:
    w = world
    v = voucher(w, face_value="1000.00", redemption_ratio="0.50", frequency="monthly")
    feb, mar = w.bill("alpha", "2026-02", {"gpu-hours": "400.00"}), w.bill("alpha", "2026-03", {"gpu-hours": "400.00"})
    r1 = redemptions.request(w.engine, w.alpha, voucher_id=v["id"], bill_id=feb)
    with pytest.raises(InvalidInput) as exc:  # a reduction is less than what is held
        redemptions.decide(w.engine, w.operator, r1["id"], decision="reduce", amount="200.00")
    assert exc.value.errors[0]["field"] == "amount"
    assert redemptions.decide(w.engine, w.operator, r1["id"], decision="reduce", amount="120.50")["applied"] == \
        Decimal("120.50")
    r2 = redemptions.request(w.engine, w.alpha, voucher_id=v["id"], bill_id=mar, amount="50.00")
    assert r2["held"] == Decimal("50.00")  # the tenant asked for less than the rules allow
    rejected = redemptions.decide(w.engine, w.operator, r2["id"], decision="reject", comment="no")
    assert (rejected["status"], rejected["held"], rejected["applied"]) == ("rejected", 0, 0)
    shown = claims.get_voucher(w.engine, w.alpha, v["id"])
    assert (shown["remaining"], shown["held"]) == (Decimal("879.50"), Decimal("0.00"))
    assert accounts.get_account(w.engine, w.alpha)["balance"] == Decimal("120.50")
    with w.engine.db.read() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.target_id == r2["id"],
                                                        AuditEntry.action == "voucher.redemption.reject"))


def test_the_ratio_uses_billings_rounding_and_only_the_eligible_lines(world: World) -> None:
    w = world
    v = voucher(w, redemption_ratio="0.30", eligible=["gpu-hours"])
    bill = w.bill("alpha", "2026-02", {"gpu-hours": "333.35", "storage": "1000.00"})
    r = redemptions.request(w.engine, w.alpha, voucher_id=v["id"], bill_id=bill)
    assert r["held"] == Decimal("100.01")  # 333.35 x 0.30 = 100.005, half-up to the cent


def test_a_voucher_is_redeemed_once_per_period(world: World) -> None:
    w = world
    v = voucher(w, frequency="quarterly", redemption_ratio="0.10")
    jan, feb = w.bill("alpha", "2026-01", {"gpu-hours": "100.00"}), w.bill("alpha", "2026-02", {"gpu-hours": "100.00"})
    first = redemptions.request(w.engine, w.alpha, voucher_id=v["id"], bill_id=jan)
    assert first["period"] == "2026-Q1" and first["status"] == "held"
    second = redemptions.request(w.engine, w.alpha, voucher_id=v["id"], bill_id=feb)
    assert second["status"] == "refused" and "2026-Q1" in second["reason"]
    assert claims.get_voucher(w.engine, w.alpha, v["id"])["held"] == Decimal("10.00")


def test_an_expired_voucher_covers_nothing_from_the_exact_moment_it_expires(world: World, frozen) -> None:
    w = world
    v = voucher(w, validity_days=10)
    bill = w.bill("alpha", "2026-02", {"gpu-hours": "100.00"})
    frozen.advance(timedelta(days=10))
    r = redemptions.request(w.engine, w.alpha, voucher_id=v["id"], bill_id=bill)
    assert r["status"] == "refused" and "expired" in r["reason"]


def test_another_tenants_voucher_or_bill_is_unknown_and_an_open_bill_is_refused(world: World) -> None:
    w = world
    v = voucher(w)
    alpha_bill = w.bill("alpha", "2026-02", {"gpu-hours": "100.00"})
    beta_bill = w.bill("beta", "2026-02", {"gpu-hours": "100.00"})
    with pytest.raises(InvalidInput) as exc:
        redemptions.request(w.engine, w.beta, voucher_id=v["id"], bill_id=beta_bill)
    assert exc.value.errors[0]["field"] == "voucher_id"
    with pytest.raises(NotFound):
        redemptions.request(w.engine, w.alpha, voucher_id=v["id"], bill_id=beta_bill)
    with pytest.raises(Conflict):
        redemptions.request(w.engine, w.alpha, voucher_id=v["id"],
                            bill_id=w.bill("alpha", "2026-03", {"x": "1.00"}, status="open"))
    r = redemptions.request(w.engine, w.alpha, voucher_id=v["id"], bill_id=alpha_bill)
    with pytest.raises(NotFound):
        redemptions.get(w.engine, w.beta, r["id"])
    assert redemptions.list_redemptions(w.engine, w.beta)[1] == 0


def test_the_redemption_process_cannot_be_started_through_the_api(world: World) -> None:
    w = world
    for key in ("voucher_redemption", "voucher_expiry"):
        with pytest.raises(Forbidden):
            w.engine.runtime.start(key, tenant_id=w.tenant["alpha"], initiator="alpha-admin",
                                   variables={"redemption_id": "x"},
                                   check=api_start_check(w.alpha, w.engine.runtime.internal_keys, {}))


# -- concurrency (PostgreSQL locks) --------------------------------------------------------------------

def redeem_race(w: World, pairs: list[tuple[str, str]]) -> list[str]:
    """One redemption per (voucher, bill) pair, all at a barrier; their statuses."""
    barrier = threading.Barrier(len(pairs))
    errors: list[str] = []

    def run(voucher_id: str, bill_id: str) -> None:
        barrier.wait()
        try:
            redemptions.request(w.engine, w.alpha, voucher_id=voucher_id, bill_id=bill_id)
        except Exception:  # noqa: BLE001 - asserted on below
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=run, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors[:3]
    with w.engine.db.read() as s:
        return list(s.scalars(select(Redemption.status)))


def held_by(w: World, *conditions) -> Decimal:
    with w.engine.db.read() as s:
        return Decimal(str(s.scalar(select(func.coalesce(func.sum(Redemption.held), 0)).where(*conditions))))


def one_voucher_race(w: World, code: str) -> tuple[Decimal, Decimal]:
    """50 redemptions of one 1000.00 voucher against 50 bills of 100.00 (ratio 0.5: 50.00 each)."""
    v = voucher(w, code=code, face_value="1000.00", redemption_ratio="0.50")
    bills = [w.bill("alpha", f"{2020 + i // 12}-{i % 12 + 1:02d}", {"gpu-hours": "100.00"}) for i in range(50)]
    redeem_race(w, [(v["id"], b) for b in bills])
    with w.engine.db.read() as s:
        row = s.get(Voucher, v["id"])
        return held_by(w, Redemption.voucher_id == v["id"]), row.held


def one_bill_race(w: World, code: str) -> tuple[Decimal, Decimal, Decimal]:
    """50 vouchers of 100.00 from two campaigns (ratio 0.6 each) against one bill of 1000.00."""
    pairs = []
    bill = w.bill("alpha", "2026-02", {"gpu-hours": "1000.00"})
    for part in ("a", "b"):
        c = w.campaign(code=f"{code}-{part}", face_value="100.00", total_count=25, per_tenant_limit=25,
                       redemption_ratio="0.60")
        pairs += [(claims.claim(w.engine, w.alpha, c["id"])[0]["id"], bill) for _ in range(25)]
    redeem_race(w, pairs)
    with w.engine.db.read() as s:
        by_campaign = dict(s.execute(select(Redemption.campaign_id, func.sum(Redemption.held))
                                     .where(Redemption.bill_id == bill).group_by(Redemption.campaign_id)).all())
    a, b = (Decimal(str(x)) for x in by_campaign.values())
    return a, b, held_by(w, Redemption.bill_id == bill)


@pytest.mark.postgres
def test_fifty_concurrent_redemptions_of_one_voucher_never_exceed_its_value(pg_world: World) -> None:
    held, voucher_held = one_voucher_race(pg_world, "one-voucher")
    assert held == voucher_held == Decimal("1000.00")


@pytest.mark.postgres
def test_fifty_concurrent_redemptions_of_one_bill_never_exceed_the_ratio_or_the_bill(pg_world: World) -> None:
    a, b, total = one_bill_race(pg_world, "one-bill")
    assert max(a, b) <= Decimal("600.00") and total == Decimal("1000.00")


@pytest.mark.postgres
def test_the_redemption_race_tests_fail_when_the_locks_are_off(pg_world: World, monkeypatch) -> None:
    monkeypatch.setattr(Locking, "enabled", False)
    held, _voucher_held = one_voucher_race(pg_world, "loose-voucher")
    a, b, total = one_bill_race(pg_world, "loose-bill")
    assert held > Decimal("1000.00") or max(a, b) > Decimal("600.00") or total > Decimal("1000.00"), (
        f"without the locks the redemptions should overspend: voucher {held}, bill {a} + {b} = {total}")


def test_a_voucher_that_expires_under_review_is_released_not_credited(world: World, frozen) -> None:
    w = world
    v = voucher(w, validity_days=10)
    r = redemptions.request(w.engine, w.alpha, voucher_id=v["id"], bill_id=w.bill("alpha", "2026-02", {"g": "100.00"}))
    assert r["status"] == "held"
    frozen.advance(timedelta(days=10))
    done = redemptions.decide(w.engine, w.operator, r["id"], decision="approve")
    assert (done["status"], done["applied"], done["held"]) == ("refused", 0, 0) and "expired" in done["reason"]
    with w.engine.db.read() as s:
        assert s.get(Voucher, v["id"]).held == 0
    assert accounts.get_account(w.engine, w.alpha)["entries"] == 0


def test_cancelling_the_process_releases_the_hold(world: World) -> None:
    w = world
    v = voucher(w)
    r = redemptions.request(w.engine, w.alpha, voucher_id=v["id"], bill_id=w.bill("alpha", "2026-02", {"g": "100.00"}))
    w.engine.runtime.cancel(r["instance_id"], actor="operator", tenant_id=w.tenant["alpha"])
    done = redemptions.get(w.engine, w.alpha, r["id"])
    assert (done["status"], done["held"]) == ("refused", 0) and "cancelled" in done["reason"]
    assert claims.get_voucher(w.engine, w.alpha, v["id"])["held"] == 0
