"""Budgets, campaigns and claims on a real database: a campaign never beyond the year's budget; a
claim only inside its window, within the tenant's limit and the count, idempotent by request key;
a campaign offered to some tenants only is invisible to the others; a voucher expires at the exact
moment its validity ends, and its timer records the expiry. 50 claims at once on PostgreSQL never
exceed the count or a tenant's limit, and the suite shows they would without the campaign's lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import clock
from engine.domains.vouchers import campaigns, claims
from engine.domains.vouchers.locks import Locking
from engine.domains.vouchers.models import Voucher
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.models import AuditEntry, ProcessInstance
from engine.timers import fire_due_timers
from tests.domains.vouchers.voucher_world import World
from tests.helpers import T0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path, frozen) -> Iterator[World]:
    """The same test on SQLite and on PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'aicmp.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_database_url")
    w = World(url, tmp_path)
    yield w
    w.close()


@pytest.fixture
def pg_world(tmp_path: Path, postgres_database_url: str, frozen) -> Iterator[World]:
    w = World(postgres_database_url, tmp_path)
    yield w
    w.close()


def test_a_campaign_cannot_be_created_beyond_the_years_remaining_budget(world: World) -> None:
    w = world
    w.campaign(code="a", face_value="1000.00", total_count=60, budget="100000.00")  # commits 60,000
    with pytest.raises(Conflict) as exc:
        campaigns.create_campaign(w.engine, w.operator, year=2026, code="b", name="B", face_value="1000.00",
                                  total_count=41, per_tenant_limit=1, claim_starts_at=T0,
                                  claim_ends_at=T0 + timedelta(days=1), validity_days=30, redemption_ratio="0.5")
    assert exc.value.errors[0]["remaining"] == "40000.00"
    budget = campaigns.list_budgets(w.engine, w.operator)[0]
    assert (budget["committed"], budget["remaining"]) == (Decimal("60000.00"), Decimal("40000.00"))
    with pytest.raises(Conflict):  # nor can the budget shrink below what campaigns committed
        campaigns.set_budget(w.engine, w.operator, year=2026, amount="59999.99")
    with pytest.raises(Forbidden):
        campaigns.set_budget(w.engine, w.alpha, year=2026, amount="1")


@pytest.mark.parametrize(("field", "value"), [("redemption_ratio", "1.5"), ("redemption_ratio", "0"),
                                              ("face_value", "-1"), ("total_count", 0), ("frequency", "weekly"),
                                              ("claim_ends_at", "2026-01-01T00:00:00Z"), ("tenant_ids", [])])
def test_bad_campaigns_are_refused_naming_the_field(world: World, field: str, value: object) -> None:
    with pytest.raises(InvalidInput) as exc:
        world.campaign(**{field: value})
    assert exc.value.errors[0]["field"] == field


def test_claims_respect_the_window_the_tenant_limit_and_the_count(world: World, frozen) -> None:
    w = world
    c = w.campaign(total_count=3, per_tenant_limit=2, validity_days=30)
    first, created = claims.claim(w.engine, w.alpha, c["id"], request_key="k1")
    assert created and first["available"] == Decimal("1000.00") and first["status"] == "active"
    assert first["expires_at"] == T0 + timedelta(days=30)
    again, created = claims.claim(w.engine, w.alpha, c["id"], request_key="k1")  # idempotent
    assert not created and again["id"] == first["id"]
    claims.claim(w.engine, w.alpha_user, c["id"], request_key="k2")  # the same tenant, another user
    with pytest.raises(Conflict, match="limit"):
        claims.claim(w.engine, w.alpha, c["id"], request_key="k3")
    claims.claim(w.engine, w.beta, c["id"])
    with pytest.raises(Conflict, match="no vouchers left"):
        claims.claim(w.engine, w.beta, c["id"])
    assert campaigns.list_campaigns(w.engine, w.operator, campaigns.CampaignFilters())[0][0]["claimed_count"] == 3
    late = w.campaign(code="late")
    frozen.advance(timedelta(days=30))  # claim_ends_at: the window is closed at that very instant
    with pytest.raises(Conflict, match="not open"):
        claims.claim(w.engine, w.alpha, late["id"])
    with pytest.raises(Forbidden):
        claims.claim(w.engine, w.operator, late["id"])
    with w.engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "voucher.claim")) == 3


def test_a_campaign_for_some_tenants_is_invisible_to_the_others(world: World) -> None:
    w = world
    only_alpha = w.campaign(code="alpha-only", tenant_ids=[w.tenant["alpha"]], eligible=["gpu-hours"])
    w.campaign(code="for-all", budget="1000000.00")
    seen = lambda who: [c["code"] for c in campaigns.list_campaigns(w.engine, who, campaigns.CampaignFilters())[0]]  # noqa: E731
    assert sorted(seen(w.alpha)) == ["alpha-only", "for-all"] and seen(w.beta) == ["for-all"]
    assert "tenant_ids" not in campaigns.list_campaigns(w.engine, w.alpha, campaigns.CampaignFilters())[0][0]
    with pytest.raises(NotFound):
        claims.claim(w.engine, w.beta, only_alpha["id"])
    filtered = campaigns.list_campaigns(w.engine, w.alpha, campaigns.CampaignFilters(q="ALPHA", eligible="gpu-hours",
                                                                                     open_now=True))[0]
    assert [c["code"] for c in filtered] == ["alpha-only"]
    voucher, _ = claims.claim(w.engine, w.alpha, only_alpha["id"])
    with pytest.raises(NotFound):
        claims.get_voucher(w.engine, w.beta, voucher["id"])
    assert claims.list_vouchers(w.engine, w.beta)[1] == 0 and claims.list_vouchers(w.engine, w.alpha)[1] == 1


def test_a_voucher_expires_at_the_exact_end_of_its_validity_and_the_timer_records_it(world: World, frozen) -> None:
    w = world
    c = w.campaign(validity_days=10)
    voucher, _ = claims.claim(w.engine, w.alpha, c["id"])
    with w.engine.db.read() as s:
        instance = s.scalars(select(ProcessInstance).where(ProcessInstance.business_key == voucher["id"])).one()
    assert instance.process_key == "voucher_expiry" and instance.status == "running"
    frozen.advance(timedelta(days=10) - timedelta(microseconds=1))
    assert claims.get_voucher(w.engine, w.alpha, voucher["id"])["status"] == "active"
    fire_due_timers(w.engine, "test")
    with w.engine.db.read() as s:
        assert s.get(ProcessInstance, instance.id).status == "running"
    frozen.advance(timedelta(microseconds=1))  # now == expires_at: no longer usable
    shown = claims.get_voucher(w.engine, w.alpha, voucher["id"])
    assert shown["status"] == "expired" and shown["available"] == 0
    assert claims.list_vouchers(w.engine, w.alpha, status="expired")[1] == 1
    frozen.advance(timedelta(seconds=1))
    fire_due_timers(w.engine, "test")
    with w.engine.db.read() as s:
        assert s.get(ProcessInstance, instance.id).status == "completed"
        row = s.get(Voucher, voucher["id"])
        assert (row.status, row.expired_amount, row.expired_at) == ("expired", Decimal("1000.00"), clock.now())
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.target_id == voucher["id"],
                                                        AuditEntry.action == "voucher.expire")) == "voucher.expire"


# -- concurrency (PostgreSQL row locks) ----------------------------------------------------------------

def claim_race(w: World, campaign_id: str, workers: int = 50) -> dict[str, int]:
    """``workers`` claims at a barrier, half by alpha, half by beta; vouchers per tenant afterwards."""
    barrier = threading.Barrier(workers)
    errors: list[str] = []

    def run(i: int) -> None:
        who = w.alpha if i % 2 else w.beta
        barrier.wait()
        try:
            claims.claim(w.engine, who, campaign_id)
        except Conflict:
            pass
        except Exception as exc:  # noqa: BLE001 - recorded, asserted on below
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors[:3]
    with w.engine.db.read() as s:
        rows = s.execute(select(Voucher.tenant_id, func.count()).where(Voucher.campaign_id == campaign_id)
                         .group_by(Voucher.tenant_id)).all()
    return {tenant: count for tenant, count in rows}


def within_limits(per_tenant: dict[str, int]) -> bool:
    """The count (10) and the per-tenant limit (7) hold: 10 vouchers, neither tenant above 7."""
    return sum(per_tenant.values()) == 10 and max(per_tenant.values()) <= 7


@pytest.mark.postgres
def test_fifty_concurrent_claims_never_exceed_the_count_or_a_tenants_limit(pg_world: World) -> None:
    w = pg_world
    c = w.campaign(total_count=10, per_tenant_limit=7)
    per_tenant = claim_race(w, c["id"])
    assert within_limits(per_tenant), per_tenant
    claimed = campaigns.list_campaigns(w.engine, w.operator, campaigns.CampaignFilters())[0][0]["claimed_count"]
    assert claimed == 10


@pytest.mark.postgres
def test_the_claim_race_test_fails_when_the_lock_is_off(pg_world: World, monkeypatch) -> None:
    w = pg_world
    monkeypatch.setattr(Locking, "enabled", False)
    results = []
    for i in range(3):
        c = w.campaign(code=f"race-{i}", total_count=10, per_tenant_limit=7)
        results.append(claim_race(w, c["id"]))
        if not within_limits(results[-1]):
            break
    assert not all(within_limits(r) for r in results), f"without the lock the claims should overrun: {results}"
