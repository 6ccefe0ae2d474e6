"""Accounts and their ledger on a real database: every change one row with who, when and why, the
balance the sum of the ledger (also after a random sequence: a property test), the credit limit
never crossed (also by 20 debits at once on PostgreSQL, and the suite shows that race would cross
it without the account's row lock), each tenant seeing only its own account."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from engine.domains.accounts import ledger
from engine.domains.accounts import service as accounts
from engine.domains.accounts.models import Account, LedgerEntry
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.models import AuditEntry
from tests.domains.vouchers.voucher_world import World


@pytest.fixture
def world(tmp_path: Path, frozen) -> Iterator[World]:
    w = World(f"sqlite:///{tmp_path / 'aicmp.db'}", tmp_path)
    yield w
    w.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_world(request: pytest.FixtureRequest, tmp_path: Path, frozen) -> Iterator[World]:
    """The same test on SQLite and on PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'aicmp.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_database_url")
    w = World(url, tmp_path)
    yield w
    w.close()


@pytest.fixture
def pg_world(tmp_path: Path, postgres_database_url: str) -> Iterator[World]:
    w = World(postgres_database_url, tmp_path)
    yield w
    w.close()


def balance_and_sum(w: World, tenant: str) -> tuple[Decimal, Decimal]:
    with w.engine.db.read() as s:
        account = s.scalars(select(Account).where(Account.tenant_id == w.tenant[tenant])).one()
        return account.balance, ledger.check(s, account)


def test_every_change_is_one_ledger_row_with_who_when_and_why(any_world: World) -> None:
    w, alpha = any_world, any_world.tenant["alpha"]
    w.open_accounts(credit_limit="100.00")
    accounts.post_manual(w.engine, w.operator, tenant_id=alpha, kind="topup", amount="500.00", reason="bank transfer 1")
    accounts.post_manual(w.engine, w.operator, tenant_id=alpha, kind="adjustment", amount="-50.25", reason="correction")
    accounts.post_manual(w.engine, w.operator, tenant_id=alpha, kind="refund", amount="10.00", reason="SLA credit")
    account = accounts.get_account(w.engine, w.alpha)
    assert account["balance"] == Decimal("459.75") and account["available"] == Decimal("559.75")
    rows, total = accounts.history(w.engine, w.alpha)
    assert total == 3
    assert [(r["seq"], r["kind"], r["amount"], r["balance_after"], r["actor"], r["reason"]) for r in rows] == [
        (3, "refund", Decimal("10.00"), Decimal("459.75"), "operator", "SLA credit"),
        (2, "adjustment", Decimal("-50.25"), Decimal("449.75"), "operator", "correction"),
        (1, "topup", Decimal("500.00"), Decimal("500.00"), "operator", "bank transfer 1")]
    assert all(r["created_at"].tzinfo is not None for r in rows)
    assert balance_and_sum(w, "alpha") == (Decimal("459.75"), Decimal("459.75"))
    with w.engine.db.read() as s:  # each ledger row has its audit entry in the tenant's chain
        audited = set(s.scalars(select(AuditEntry.target_id).where(AuditEntry.tenant_id == alpha,
                                                                   AuditEntry.action.like("ledger.%"))))
    assert audited == {r["id"] for r in rows}


def test_a_debit_below_the_credit_limit_is_refused_and_changes_nothing(any_world: World) -> None:
    w, alpha = any_world, any_world.tenant["alpha"]
    w.open_accounts(credit_limit="100.00")
    accounts.post_manual(w.engine, w.operator, tenant_id=alpha, kind="adjustment", amount="-100.00", reason="debt")
    with pytest.raises(Conflict) as exc:
        accounts.post_manual(w.engine, w.operator, tenant_id=alpha, kind="adjustment", amount="-0.01", reason="x")
    assert exc.value.errors[0]["field"] == "amount"
    assert balance_and_sum(w, "alpha") == (Decimal("-100.00"), Decimal("-100.00"))
    with pytest.raises(Conflict):  # the limit cannot be lowered below the debt either
        accounts.set_credit_limit(w.engine, w.operator, tenant_id=alpha, credit_limit="99.99")
    assert accounts.set_credit_limit(w.engine, w.operator, tenant_id=alpha, credit_limit="150")["credit_limit"] == 150


@pytest.mark.parametrize(("field", "value"), [("amount", "1.001"), ("amount", "0"), ("amount", "abc"),
                                              ("amount", 1.5), ("amount", "-5"), ("reason", "  ")])
def test_bad_input_is_refused_naming_the_field(world: World, field: str, value: object) -> None:
    w = world
    w.open_accounts()
    body = {"amount": "10.00", "reason": "ok", field: value}
    with pytest.raises(InvalidInput) as exc:
        accounts.post_manual(w.engine, w.operator, tenant_id=w.tenant["alpha"], kind="topup", **body)
    assert exc.value.errors[0]["field"] == field
    assert accounts.get_account(w.engine, w.alpha)["entries"] == 0


def test_a_reference_posts_once(any_world: World) -> None:
    w, alpha = any_world, any_world.tenant["alpha"]
    w.open_accounts()
    first = accounts.post_manual(w.engine, w.operator, tenant_id=alpha, kind="topup", amount="5.00", reason="slip",
                                 reference="SLIP-1")
    again = accounts.post_manual(w.engine, w.operator, tenant_id=alpha, kind="topup", amount="5.00", reason="slip",
                                 reference="SLIP-1")
    assert again["id"] == first["id"] and accounts.get_account(w.engine, w.alpha)["balance"] == Decimal("5.00")


def test_a_closed_bill_is_charged_once_and_an_open_one_not_at_all(any_world: World) -> None:
    w, alpha = any_world, any_world.tenant["alpha"]
    w.open_accounts(credit_limit="5000")
    closed = w.bill("alpha", "2026-02", {"gpu-hours": "1200.50", "storage": "99.50"})
    open_bill = w.bill("alpha", "2026-03", {"gpu-hours": "10.00"}, status="open")
    charge = accounts.charge_bill(w.engine, w.operator, tenant_id=alpha, bill_id=closed)
    assert charge["kind"] == "charge" and charge["amount"] == Decimal("-1300.00")
    assert accounts.charge_bill(w.engine, w.operator, tenant_id=alpha, bill_id=closed)["id"] == charge["id"]
    with pytest.raises(Conflict):
        accounts.charge_bill(w.engine, w.operator, tenant_id=alpha, bill_id=open_bill)
    with pytest.raises(NotFound):  # another tenant's bill is unknown
        accounts.charge_bill(w.engine, w.operator, tenant_id=w.tenant["beta"], bill_id=closed)
    assert balance_and_sum(w, "alpha") == (Decimal("-1300.00"), Decimal("-1300.00"))


def test_tenants_see_only_their_own_account(any_world: World) -> None:
    w = any_world
    w.open_accounts()
    accounts.post_manual(w.engine, w.operator, tenant_id=w.tenant["alpha"], kind="topup", amount="7", reason="x")
    assert accounts.get_account(w.engine, w.beta)["balance"] == 0
    with pytest.raises(NotFound):
        accounts.get_account(w.engine, w.beta, tenant_id=w.tenant["alpha"])
    with pytest.raises(NotFound):
        accounts.history(w.engine, w.beta, tenant_id=w.tenant["alpha"])
    rows, total = accounts.list_accounts(w.engine, w.beta)
    assert total == 1 and rows[0]["tenant_id"] == w.tenant["beta"]
    assert accounts.list_accounts(w.engine, w.operator)[1] == 2
    with pytest.raises(Forbidden):
        accounts.post_manual(w.engine, w.alpha, tenant_id=w.tenant["alpha"], kind="topup", amount="1", reason="me")
    with pytest.raises(Conflict):
        accounts.open_account(w.engine, w.operator, tenant_id=w.tenant["alpha"])


# -- property: the balance is the sum of the ledger ----------------------------------------------------

OPERATIONS = st.lists(st.tuples(
    st.sampled_from(["topup", "refund", "adjustment", "limit"]),
    st.decimals(min_value=Decimal("-500"), max_value=Decimal("500"), places=2, allow_nan=False,
                allow_infinity=False)), min_size=1, max_size=25)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_the_ledger_sum_is_the_balance_after_any_sequence(world: World, operations) -> None:
    w, alpha = world, world.tenant["alpha"]
    with w.engine.db.write() as s:  # a fresh account for every example
        s.query(LedgerEntry).delete()
        s.query(Account).delete()
    accounts.open_account(w.engine, w.operator, tenant_id=alpha, credit_limit="200.00")
    expected, limit = Decimal("0.00"), Decimal("200.00")
    for kind, amount in operations:
        try:
            if kind == "limit":
                accounts.set_credit_limit(w.engine, w.operator, tenant_id=alpha, credit_limit=abs(amount))
                limit = abs(amount)
            else:
                value = amount if kind == "adjustment" else abs(amount)
                accounts.post_manual(w.engine, w.operator, tenant_id=alpha, kind=kind, amount=value, reason="prop")
                expected += value
        except (Conflict, InvalidInput):
            pass  # refused: nothing may have changed
        balance, total = balance_and_sum(w, "alpha")
        assert balance == total == expected
        assert balance >= -limit


# -- concurrency (PostgreSQL row locks) ----------------------------------------------------------------

def debit_race(w: World, workers: int = 20) -> tuple[int, Decimal, Decimal]:
    alpha = w.tenant["alpha"]
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []

    def debit(_i: int) -> None:
        barrier.wait()
        try:
            accounts.post_manual(w.engine, w.operator, tenant_id=alpha, kind="adjustment", amount="-30.00",
                                 reason="race")
            outcomes.append("ok")
        except Conflict:
            outcomes.append("refused")
        except Exception as exc:  # a unique (account, seq) violation: the lock was off
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=debit, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    with w.engine.db.read() as s:
        account = s.scalars(select(Account).where(Account.tenant_id == alpha)).one()
        total = Decimal(str(s.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                                     .where(LedgerEntry.account_id == account.id)))).quantize(Decimal("0.01"))
        return outcomes.count("ok"), account.balance, total


def as_locked(result: tuple[int, Decimal, Decimal]) -> bool:
    """What the race gives with the lock: exactly the 10 debits of 30.00 that fit 200.00 + 100.00
    of credit, the balance at the limit and equal to the ledger's sum."""
    ok, balance, total = result
    return ok == 10 and balance == total == Decimal("-100.00")


@pytest.mark.postgres
def test_concurrent_debits_never_cross_the_credit_limit(pg_world: World) -> None:
    w = pg_world
    w.open_accounts(credit_limit="100.00")
    accounts.post_manual(w.engine, w.operator, tenant_id=w.tenant["alpha"], kind="topup", amount="200.00", reason="x")
    assert as_locked(debit_race(w))


@pytest.mark.postgres
def test_the_debit_race_test_fails_when_the_lock_is_off(pg_world: World, monkeypatch) -> None:
    """Without the row lock, debits read the same balance: the unique (account, seq) keeps the ledger
    whole, but the race no longer gives the locked result (lost debits, refusals that should not be)."""
    w = pg_world
    w.open_accounts(credit_limit="100.00")
    accounts.post_manual(w.engine, w.operator, tenant_id=w.tenant["alpha"], kind="topup", amount="200.00", reason="x")
    monkeypatch.setattr(ledger.Locking, "enabled", False)
    result = debit_race(w)
    assert not as_locked(result), f"without the lock the race should not give the locked result, got {result}"
    assert result[1] == result[2], "the unique (account, seq) still keeps the balance equal to the ledger"
