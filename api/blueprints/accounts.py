"""Tenant accounts over HTTP: open one, read it and its ledger, top up, refund, adjust, charge a
closed bill, set the credit limit, check the balance against the ledger.

A tenant user reads their own tenant's account only (another tenant's answers 404); changing an
account is for platform staff holding ``account:manage``.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.idempotency import idempotent
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from engine.domains.accounts import service as accounts
from engine.domains.accounts.models import KINDS

blp = Blueprint("accounts", __name__, url_prefix="/api/v1/accounts",
                description="Tenant accounts: balance, credit limit and the ledger (one row per change)")

READ = "account:read"
MANAGE = "account:manage"


def _money(description: str) -> fields.Decimal:
    return fields.Decimal(as_string=True, metadata={"description": description})


class AccountSchema(Schema):
    id = fields.String()
    tenant_id = fields.String()
    currency = fields.String()
    balance = _money("the sum of the ledger")
    credit_limit = _money("the balance may go down to minus this")
    available = _money("balance + credit_limit: what debits may still take")
    entries = fields.Integer(metadata={"description": "ledger rows"})
    opened_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class LedgerEntrySchema(Schema):
    id = fields.String()
    account_id = fields.String()
    tenant_id = fields.String()
    seq = fields.Integer(metadata={"description": "1, 2, 3... per account, no gaps"})
    kind = fields.String(metadata={"description": ", ".join(KINDS)})
    amount = _money("signed: + credits the account, - debits it")
    balance_after = _money("the balance after this row")
    reference_type = fields.String(allow_none=True, metadata={"description": "bill, redemption or manual"})
    reference_id = fields.String(allow_none=True)
    reason = fields.String()
    actor = fields.String(allow_none=True, metadata={"description": "who posted it (null: the platform)"})
    created_at = fields.DateTime()


class AccountOpenSchema(Schema):
    tenant_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    credit_limit = fields.String(load_default="0", metadata={"description": "decimal text, e.g. 1000.00"})
    currency = fields.String(load_default="CNY", validate=validate.OneOf(["CNY"]))


class EntryInSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(accounts.MANUAL_KINDS))
    amount = fields.String(required=True, metadata={
        "description": "decimal text with at most two places; positive, except an adjustment may be negative"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    reference = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=50), metadata={
        "description": "e.g. a payment slip number: the same reference posts once"})


class ChargeInSchema(Schema):
    bill_id = fields.String(required=True, validate=validate.Length(min=1, max=36))


class CreditLimitSchema(Schema):
    credit_limit = fields.String(required=True, metadata={"description": "decimal text, zero or more"})


class LedgerQuery(PageArgs):
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))


class VerifySchema(Schema):
    tenant_id = fields.String()
    balance = _money("as stored")
    ledger_sum = _money("recomputed from the rows")
    entries = fields.Integer()


@blp.route("")
class Accounts(MethodView):
    @requires(READ)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(AccountSchema, "AccountPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """Every account (platform staff); a tenant user gets their own tenant's."""
        rows, total = accounts.list_accounts(engine(), current_principal(), offset=offset(args),
                                             limit=args["page_size"])
        return page(rows, total, args)

    @requires(MANAGE)
    @blp.arguments(AccountOpenSchema)
    @blp.response(201, AccountSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Open a tenant's account (409 when it has one)."""
        return accounts.open_account(engine(), current_principal(), **body, ip=client_ip())


@blp.route("/<string:tenant_id>")
@requires(READ)
@blp.response(200, AccountSchema)
def get_account(tenant_id: str) -> Any:
    """A tenant's account: yours, or (platform staff) any."""
    return accounts.get_account(engine(), current_principal(), tenant_id)


@blp.route("/<string:tenant_id>/ledger")
@requires(READ)
@blp.arguments(LedgerQuery, location="query")
@blp.response(200, page_schema(LedgerEntrySchema, "LedgerPage"))
def ledger(args: dict[str, Any], tenant_id: str) -> Any:
    """The account's transaction history, newest first."""
    rows, total = accounts.history(engine(), current_principal(), tenant_id, kind=args["kind"], offset=offset(args),
                                   limit=args["page_size"])
    return page(rows, total, args)


@blp.route("/<string:tenant_id>/entries", methods=["POST"])
@requires(MANAGE)
@idempotent
@blp.arguments(EntryInSchema)
@blp.response(201, LedgerEntrySchema)
def post_entry(body: dict[str, Any], tenant_id: str) -> Any:
    """Top up, refund or adjust; 409 when a debit would take the balance below the credit limit."""
    return accounts.post_manual(engine(), current_principal(), tenant_id=tenant_id, **body, ip=client_ip())


@blp.route("/<string:tenant_id>/charges", methods=["POST"])
@requires(MANAGE)
@blp.arguments(ChargeInSchema)
@blp.response(201, LedgerEntrySchema)
def charge(body: dict[str, Any], tenant_id: str) -> Any:
    """Charge a closed bill's total to the account, once per bill (a repeat answers the same row)."""
    return accounts.charge_bill(engine(), current_principal(), tenant_id=tenant_id, bill_id=body["bill_id"],
                                ip=client_ip())


@blp.route("/<string:tenant_id>/credit-limit", methods=["PUT"])
@requires(MANAGE)
@blp.arguments(CreditLimitSchema)
@blp.response(200, AccountSchema)
def credit_limit(body: dict[str, Any], tenant_id: str) -> Any:
    """Set the credit limit (409 when the balance is already below the new floor)."""
    return accounts.set_credit_limit(engine(), current_principal(), tenant_id=tenant_id,
                                     credit_limit=body["credit_limit"], ip=client_ip())


@blp.route("/<string:tenant_id>/verify")
@requires(READ)
@blp.response(200, VerifySchema)
def verify(tenant_id: str) -> Any:
    """Recompute the ledger's sum and compare it with the balance (409 when they disagree)."""
    return accounts.verify(engine(), current_principal(), tenant_id)
