"""Posting to a ledger: the one way an account's balance moves.

``post`` locks the account row (``SELECT ... FOR UPDATE``; SQLite write transactions are serial
already), checks the credit limit against the balance it read under that lock, appends the ledger
row with the next ``seq`` and the balance after it, moves ``Account.balance`` and appends an audit
entry, all in the caller's transaction. Two postings to one account therefore never read the same
balance, and ``(account_id, seq)`` being unique makes any that slipped past the lock fail rather
than double-apply.

``Locking.enabled`` exists for the race tests only: turned off, ``post`` reads without the lock, so
the tests can show that their assertion would then fail.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.domains.accounts.models import KINDS, Account, LedgerEntry
from engine.errors import Conflict, InvalidInput, NotFound

CENT = Decimal("0.01")


class Locking:
    """Test-only switch: ``enabled = False`` makes ``post`` read the account without its row lock."""

    enabled = True


def money(value: Any, field: str, *, positive: bool = False, signed: bool = False) -> Decimal:
    """``value`` as a Decimal amount of at most two decimal places (never rounded: more places are
    refused, so nothing is lost silently); 422 naming ``field`` otherwise."""
    try:
        amount = Decimal(str(value)) if not isinstance(value, (bool, float)) else None
    except ArithmeticError:
        amount = None
    problem = None
    if amount is None or not amount.is_finite():
        problem = "a decimal amount such as 100.00"
    elif amount != amount.quantize(CENT):
        problem = "at most two decimal places"
    elif positive and amount <= 0:
        problem = "greater than zero"
    elif not signed and amount < 0:
        problem = "zero or more"
    elif abs(amount) >= Decimal("1e15"):
        problem = "less than 10^15"
    if problem:
        raise InvalidInput(f"{field}: {problem}", errors=[{"field": field, "message": problem}])
    assert amount is not None
    return amount.quantize(CENT)


def account_for(s: Session, tenant_id: str, *, lock: bool = False) -> Account:
    """The tenant's account (locked when ``lock`` and locking is on); NotFound when none is open."""
    q = select(Account).where(Account.tenant_id == tenant_id)
    if lock and Locking.enabled:
        q = q.with_for_update()
    row = s.scalars(q.execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFound(f"tenant {tenant_id} has no account")
    return row


def existing(s: Session, account: Account, kind: str, reference_type: str, reference_id: str) -> LedgerEntry | None:
    return s.scalars(select(LedgerEntry).where(
        LedgerEntry.account_id == account.id, LedgerEntry.kind == kind,
        LedgerEntry.reference_type == reference_type, LedgerEntry.reference_id == reference_id)).first()


def post(s: Session, tenant_id: str, kind: str, amount: Decimal, *, actor: str | None, reason: str,
         reference: tuple[str, str] | None = None, ip: str | None = None) -> LedgerEntry:
    """Append one row to the tenant's ledger and move its balance. A debit that would take the
    balance below ``-credit_limit`` is refused (409) and changes nothing. With a ``reference``
    (type, id) the posting happens once: a repeat returns the row already written."""
    if kind not in KINDS:
        raise ValueError(f"unknown ledger kind {kind!r}")
    if amount != amount.quantize(CENT) or amount == 0:
        raise ValueError(f"a ledger amount is a non-zero number of cents, not {amount}")
    account = account_for(s, tenant_id, lock=True)
    if reference is not None:
        found = existing(s, account, kind, *reference)
        if found is not None:
            return found
    after = account.balance + amount
    if amount < 0 and after < -account.credit_limit:
        raise Conflict(f"the account of tenant {tenant_id} would go to {after}, below its credit limit "
                       f"-{account.credit_limit}", errors=[{"field": "amount", "message": "exceeds the balance and "
                                                            "the credit limit", "available": str(
                                                                account.balance + account.credit_limit)}])
    account.entries += 1
    account.balance = after
    account.updated_at = clock.now()
    row = LedgerEntry(account_id=account.id, tenant_id=tenant_id, seq=account.entries, kind=kind, amount=amount,
                      balance_after=after, reference_type=reference[0] if reference else None,
                      reference_id=reference[1] if reference else None, reason=reason[:500], actor=actor)
    s.add(row)
    s.flush()
    audit.record(s, action=f"ledger.{kind}", actor=actor, tenant_id=tenant_id, target_type="ledger_entry",
                 target_id=row.id, detail={"account_id": account.id, "seq": row.seq, "amount": str(amount),
                                           "balance_after": str(after), "reason": row.reason,
                                           "reference": list(reference) if reference else None}, ip=ip)
    return row


def check(s: Session, account: Account) -> Decimal:
    """The ledger's sum for ``account``; Conflict when the stored balance or the last row's
    ``balance_after`` disagrees with it (a row changed or went missing outside ``post``)."""
    total = s.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.account_id == account.id))
    total = Decimal(str(total)).quantize(CENT)
    count = s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.account_id == account.id))
    last = s.scalar(select(LedgerEntry.balance_after).where(LedgerEntry.account_id == account.id)
                    .order_by(LedgerEntry.seq.desc()).limit(1))
    if total != account.balance or count != account.entries or (last is not None and last != total):
        raise Conflict(f"account {account.id}: ledger sum {total} ({count} rows) disagrees with the balance "
                       f"{account.balance} ({account.entries} rows)")
    return total
