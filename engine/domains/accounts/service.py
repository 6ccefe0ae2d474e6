"""Accounts for the API: operators open accounts, top up, refund, adjust and set credit limits;
tenants read their own account and its history.

Who sees what: platform staff every account, a tenant user only their tenant's (another tenant's
account answers 404 exactly like a missing one). Every change is one ``ledger.post``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine import audit, clock
from engine.domains.accounts import ledger
from engine.domains.accounts.models import KINDS, Account, LedgerEntry
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.models import Tenant
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.core import Engine

# what an operator may post by hand; charges come from closed bills, voucher credits from redemptions
MANUAL_KINDS = ("topup", "refund", "adjustment")


def describe(a: Account) -> dict[str, Any]:
    return {"id": a.id, "tenant_id": a.tenant_id, "currency": a.currency, "balance": a.balance,
            "credit_limit": a.credit_limit, "available": a.balance + a.credit_limit, "entries": a.entries,
            "opened_by": a.opened_by, "created_at": a.created_at, "updated_at": a.updated_at}


def describe_entry(e: LedgerEntry) -> dict[str, Any]:
    return {"id": e.id, "account_id": e.account_id, "tenant_id": e.tenant_id, "seq": e.seq, "kind": e.kind,
            "amount": e.amount, "balance_after": e.balance_after, "reference_type": e.reference_type,
            "reference_id": e.reference_id, "reason": e.reason, "actor": e.actor, "created_at": e.created_at}


def _platform(principal: Principal) -> None:
    if not principal.is_platform:
        raise Forbidden("only platform staff manage accounts")


def _tenant_of(principal: Principal, tenant_id: str | None) -> str:
    """The tenant whose account the caller means: their own, or (staff) the one they name."""
    if principal.is_platform:
        if not tenant_id:
            raise InvalidInput("tenant_id: required", errors=[{"field": "tenant_id", "message": "required"}])
        return tenant_id
    if tenant_id and tenant_id != principal.tenant_id:
        raise NotFound(f"tenant {tenant_id} has no account")
    assert principal.tenant_id is not None
    return principal.tenant_id


def open_account(engine: Engine, principal: Principal, *, tenant_id: str, credit_limit: Any = "0",
                 currency: str = "CNY", ip: str | None = None) -> dict[str, Any]:
    """Open ``tenant_id``'s account (409 when it has one)."""
    _platform(principal)
    limit = ledger.money(credit_limit, "credit_limit")
    try:
        with engine.db.write() as s:
            if s.get(Tenant, tenant_id) is None:
                raise InvalidInput("tenant_id: no such tenant", errors=[{"field": "tenant_id",
                                                                          "message": "no such tenant"}])
            if s.scalar(select(Account.id).where(Account.tenant_id == tenant_id)) is not None:
                raise Conflict(f"tenant {tenant_id} has an account already")
            account = Account(tenant_id=tenant_id, currency=currency, credit_limit=limit, balance=0, entries=0,
                              opened_by=principal.username)
            s.add(account)
            s.flush()
            audit.record(s, action="account.open", actor=principal.username, tenant_id=tenant_id,
                         target_type="account", target_id=account.id,
                         detail={"credit_limit": str(limit), "currency": currency}, ip=ip)
            return describe(account)
    except IntegrityError as exc:  # a concurrent open won
        raise Conflict(f"tenant {tenant_id} has an account already") from exc


def get_account(engine: Engine, principal: Principal, tenant_id: str | None = None) -> dict[str, Any]:
    with engine.db.read() as s:
        return describe(ledger.account_for(s, _tenant_of(principal, tenant_id)))


def list_accounts(engine: Engine, principal: Principal, *, offset: int = 0,
                  limit: int = 20) -> tuple[list[dict[str, Any]], int]:
    """Every account (staff); a tenant user sees only their own."""
    q = select(Account)
    if not principal.is_platform:
        q = q.where(Account.tenant_id == principal.tenant_id)
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.scalars(q.order_by(Account.created_at, Account.id).offset(offset).limit(limit)).all()
        return [describe(a) for a in rows], int(total)


def history(engine: Engine, principal: Principal, tenant_id: str | None = None, *, kind: str | None = None,
            offset: int = 0, limit: int = 20) -> tuple[list[dict[str, Any]], int]:
    """The account's ledger, newest first."""
    tid = _tenant_of(principal, tenant_id)
    with engine.db.read() as s:
        account = ledger.account_for(s, tid)
        q = select(LedgerEntry).where(LedgerEntry.account_id == account.id, LedgerEntry.tenant_id == tid)
        if kind:
            if kind not in KINDS:
                raise InvalidInput("kind: unknown", errors=[{"field": "kind", "message": f"one of {', '.join(KINDS)}"}])
            q = q.where(LedgerEntry.kind == kind)
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.scalars(q.order_by(LedgerEntry.seq.desc()).offset(offset).limit(limit)).all()
        return [describe_entry(e) for e in rows], int(total)


def post_manual(engine: Engine, principal: Principal, *, tenant_id: str, kind: str, amount: Any, reason: str,
                reference: str | None = None, ip: str | None = None) -> dict[str, Any]:
    """An operator's top-up, refund or adjustment (an adjustment may be negative). ``reason`` is
    required; ``reference`` (e.g. a payment slip number) makes a retry post once."""
    _platform(principal)
    if kind not in MANUAL_KINDS:
        raise InvalidInput("kind: not postable by hand", errors=[{"field": "kind",
                                                                   "message": f"one of {', '.join(MANUAL_KINDS)}"}])
    value = ledger.money(amount, "amount", signed=kind == "adjustment", positive=kind != "adjustment")
    if value == 0:
        raise InvalidInput("amount: not zero", errors=[{"field": "amount", "message": "not zero"}])
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidInput("reason: required", errors=[{"field": "reason", "message": "text of 1 to 500 characters"}])
    with engine.db.write() as s:
        row = ledger.post(s, tenant_id, kind, value, actor=principal.username, reason=reason.strip(),
                          reference=("manual", f"{kind}:{reference}") if reference else None, ip=ip)
        return describe_entry(row)


def set_credit_limit(engine: Engine, principal: Principal, *, tenant_id: str, credit_limit: Any,
                     ip: str | None = None) -> dict[str, Any]:
    """Change the credit limit; 409 when the balance is already below the new limit's floor."""
    _platform(principal)
    limit = ledger.money(credit_limit, "credit_limit")
    with engine.db.write() as s:
        account = ledger.account_for(s, tenant_id, lock=True)
        if account.balance < -limit:
            raise Conflict(f"the balance {account.balance} is below -{limit}: settle it first",
                           errors=[{"field": "credit_limit", "message": "below the current debt"}])
        before, account.credit_limit, account.updated_at = account.credit_limit, limit, clock.now()
        audit.record(s, action="account.credit_limit", actor=principal.username, tenant_id=tenant_id,
                     target_type="account", target_id=account.id,
                     detail={"from": str(before), "to": str(limit)}, ip=ip)
        return describe(account)


def verify(engine: Engine, principal: Principal, tenant_id: str | None = None) -> dict[str, Any]:
    """Recompute the ledger sum and compare it with the balance (409 when they disagree)."""
    with engine.db.read() as s:
        account = ledger.account_for(s, _tenant_of(principal, tenant_id))
        return {"tenant_id": account.tenant_id, "balance": account.balance, "ledger_sum": ledger.check(s, account),
                "entries": account.entries}


def charge_bill(engine: Engine, principal: Principal, *, tenant_id: str, bill_id: str,
                ip: str | None = None) -> dict[str, Any]:
    """Charge a closed bill's total to the tenant's account: one ``charge`` row, once per bill
    (a repeat returns the row written the first time); 409 beyond the credit limit."""
    from engine.domains.accounts.bills import closed_bill

    _platform(principal)
    with engine.db.write() as s:
        bill = closed_bill(s, tenant_id, bill_id)
        if bill.total <= 0:
            raise Conflict(f"bill {bill_id} totals {bill.total}: nothing to charge")
        row = ledger.post(s, tenant_id, "charge", -bill.total, actor=principal.username,
                          reason=f"bill {bill.period}", reference=("bill", bill.id), ip=ip)
        return describe_entry(row)
