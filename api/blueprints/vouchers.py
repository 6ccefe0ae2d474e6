"""Compute vouchers over HTTP: the yearly budget and campaigns (operators), the voucher centre
(tenants list the campaigns open to them, claim, see their vouchers), redemptions against closed
bills (the tenant asks, an operator decides through the ``voucher_redemption`` process), and the
operators' overview with its CSV export.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.idempotency import idempotent
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from engine.domains.vouchers import campaigns, claims, overview, redemptions
from engine.domains.vouchers.models import FREQUENCIES, REDEMPTION_STATUSES, VOUCHER_STATUSES

blp = Blueprint("vouchers", __name__, url_prefix="/api/v1/vouchers",
                description="Compute vouchers: budgets, campaigns, claims, vouchers, redemptions, overview")

READ = "voucher:read"
CLAIM = "voucher:claim"
REDEEM = "voucher:redeem"
MANAGE = "voucher:manage"


def _money(description: str = "") -> fields.Decimal:
    return fields.Decimal(as_string=True, metadata={"description": description} if description else {})


def _money_in(description: str, *, required: bool = True) -> fields.String:
    """A money amount in a request: decimal text (never a float), checked by the service (422 naming the field)."""
    meta = {"description": f"{description}; decimal text, at most two places"}
    if required:
        return fields.String(required=True, metadata=meta)
    return fields.String(load_default=None, allow_none=True, metadata=meta)


# -- schemas --------------------------------------------------------------------------------------------

class BudgetSchema(Schema):
    id = fields.String()
    year = fields.Integer()
    amount = _money()
    committed = _money("face value x count of the year's campaigns (closed ones: what was claimed)")
    remaining = _money("what new campaigns may still commit")
    note = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class BudgetInSchema(Schema):
    amount = _money_in("the year's voucher budget")
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class CampaignSchema(Schema):
    id = fields.String()
    year = fields.Integer()
    code = fields.String()
    name = fields.String()
    description = fields.String()
    face_value = _money()
    total_count = fields.Integer()
    claimed_count = fields.Integer()
    left = fields.Integer(metadata={"description": "vouchers not yet claimed"})
    per_tenant_limit = fields.Integer()
    claim_starts_at = fields.DateTime()
    claim_ends_at = fields.DateTime(metadata={"description": "claims are open while starts_at <= now < ends_at"})
    validity_days = fields.Integer(metadata={"description": "a voucher expires this long after its claim"})
    redemption_ratio = fields.Decimal(as_string=True, metadata={
        "description": "the share of a bill (its eligible lines) the campaign's vouchers may cover together"})
    frequency = fields.String(metadata={"description": "a voucher is redeemed at most once per month or quarter"})
    eligible = fields.List(fields.String(), metadata={"description": "component, price plan or spec codes; empty: all"})
    status = fields.String(metadata={"description": "open or closed"})
    created_at = fields.DateTime()
    tenant_ids = fields.List(fields.String(), allow_none=True, metadata={
        "description": "staff only: who may claim (null: every tenant)"})
    created_by = fields.String()


class CampaignInSchema(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    face_value = _money_in("one voucher's value")
    total_count = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000_000))
    per_tenant_limit = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000_000))
    claim_starts_at = fields.AwareDateTime(required=True)
    claim_ends_at = fields.AwareDateTime(required=True)
    validity_days = fields.Integer(required=True, validate=validate.Range(min=1, max=3650))
    redemption_ratio = fields.String(required=True, metadata={"description": "above 0, at most 1, e.g. 0.30"})
    frequency = fields.String(load_default="monthly", validate=validate.OneOf(FREQUENCIES))
    eligible = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=list,
                           validate=validate.Length(max=200))
    tenant_ids = fields.List(fields.String(validate=validate.Length(min=1, max=36)), load_default=None,
                             allow_none=True, metadata={"description": "null: every tenant may claim"})


class CampaignQuery(PageArgs):
    q = fields.String(load_default=None, validate=validate.Length(max=100), metadata={
        "description": "part of the code or name"})
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100))
    open_now = fields.Boolean(load_default=False, metadata={"description": "only campaigns claimable now"})
    frequency = fields.String(load_default=None, validate=validate.OneOf(FREQUENCIES))
    eligible = fields.String(load_default=None, metadata={"description": "covers this component or product code"})


class ClaimInSchema(Schema):
    campaign_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    request_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100),
                               metadata={"description": "the same request_id claims once (a retry returns the "
                                                        "voucher it got); none: every request is a new claim"})


class VoucherSchema(Schema):
    id = fields.String()
    number = fields.String()
    campaign_id = fields.String()
    campaign_code = fields.String()
    campaign_name = fields.String()
    tenant_id = fields.String()
    face_value = _money()
    remaining = _money("face value less what was applied")
    held = _money("held by redemptions under review")
    available = _money("remaining - held while the voucher is active; 0 otherwise")
    status = fields.String(metadata={"description": ", ".join(VOUCHER_STATUSES) + " (expired from expires_at on)"})
    redemption_ratio = fields.Decimal(as_string=True)
    frequency = fields.String()
    claimed_by = fields.String()
    claimed_at = fields.DateTime()
    expires_at = fields.DateTime()
    expired_at = fields.DateTime(allow_none=True, metadata={"description": "when the expiry timer recorded it"})
    expired_amount = _money("what lapsed unused")


class VoucherQuery(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(VOUCHER_STATUSES))
    campaign_id = fields.String(load_default=None)
    tenant_id = fields.String(load_default=None, metadata={"description": "platform staff: one tenant"})


class RedemptionSchema(Schema):
    id = fields.String()
    tenant_id = fields.String()
    voucher_id = fields.String()
    campaign_id = fields.String()
    bill_id = fields.String()
    bill_total = _money()
    period = fields.String(metadata={"description": "2026-03 (monthly) or 2026-Q1 (quarterly)"})
    requested = _money("what the tenant asked for (null: as much as the rules allow)")
    quoted = _money()
    held = _money()
    applied = _money()
    status = fields.String(metadata={"description": ", ".join(REDEMPTION_STATUSES)})
    requested_by = fields.String()
    decided_by = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "why it was refused"})
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    instance_id = fields.String(allow_none=True, metadata={"description": "its voucher_redemption process"})
    review_task_id = fields.String(allow_none=True, metadata={"description": "the operator's open review task"})


class RedemptionInSchema(Schema):
    voucher_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    bill_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    amount = _money_in("at most this much (none: as much as the rules allow)", required=False)


class RedemptionQuery(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(REDEMPTION_STATUSES))
    bill_id = fields.String(load_default=None)
    voucher_id = fields.String(load_default=None)
    tenant_id = fields.String(load_default=None, metadata={"description": "platform staff: one tenant"})


class DecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(redemptions.DECISIONS))
    amount = _money_in("reduce only: the amount to apply, less than what is held", required=False)
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class OverviewQuery(Schema):
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100))


_FIGURES = {"issued": _money("face value x count of the campaigns"), "claimed": _money("face value claimed"),
            "redeemed": _money("applied to bills"), "expired": _money("lapsed unused"),
            "held": _money("held by redemptions under review"), "vouchers": fields.Integer()}
OverviewYearSchema = Schema.from_dict({"year": fields.Integer(), "budget": _money(), "committed": _money(),
                                       **_FIGURES}, name="VoucherOverviewYear")
OverviewCampaignSchema = Schema.from_dict({"campaign_id": fields.String(), "code": fields.String(),
                                           "name": fields.String(), "year": fields.Integer(),
                                           "status": fields.String(), "total_count": fields.Integer(),
                                           "claimed_count": fields.Integer(), **_FIGURES},
                                          name="VoucherOverviewCampaign")
OverviewTenantSchema = Schema.from_dict({"year": fields.Integer(), "tenant_id": fields.String(), **_FIGURES},
                                        name="VoucherOverviewTenant")
OverviewSchema = Schema.from_dict({"years": fields.List(fields.Nested(OverviewYearSchema)),
                                   "campaigns": fields.List(fields.Nested(OverviewCampaignSchema)),
                                   "tenants": fields.List(fields.Nested(OverviewTenantSchema))},
                                  name="VoucherOverview")


# -- budgets and campaigns ----------------------------------------------------------------------------

@blp.route("/budgets")
@requires(MANAGE)
@blp.response(200, BudgetSchema(many=True))
def list_budgets() -> Any:
    """Every year's budget: amount, committed by campaigns, remaining."""
    return campaigns.list_budgets(engine(), current_principal())


@blp.route("/budgets/<int:year>", methods=["PUT"])
@requires(MANAGE)
@blp.arguments(BudgetInSchema)
@blp.response(200, BudgetSchema)
def set_budget(body: dict[str, Any], year: int) -> Any:
    """Set a year's budget (409 below what its campaigns committed)."""
    return campaigns.set_budget(engine(), current_principal(), year=year, amount=body["amount"], note=body["note"],
                                ip=client_ip())


@blp.route("/campaigns")
class Campaigns(MethodView):
    @requires(READ)
    @blp.arguments(CampaignQuery, location="query")
    @blp.response(200, page_schema(CampaignSchema, "VoucherCampaignPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """The voucher centre: the open campaigns offered to your tenant (platform staff: every
        campaign), searched by code or name and filtered by year, frequency, eligible code, claimable now."""
        f = campaigns.CampaignFilters(q=args["q"], year=args["year"], open_now=args["open_now"],
                                      frequency=args["frequency"], eligible=args["eligible"])
        rows, total = campaigns.list_campaigns(engine(), current_principal(), f, offset=offset(args),
                                               limit=args["page_size"])
        return page(rows, total, args)

    @requires(MANAGE)
    @blp.arguments(CampaignInSchema)
    @blp.response(201, CampaignSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a campaign; its face value x count is committed against the year's budget (409 when
        the budget's remainder is short)."""
        return campaigns.create_campaign(engine(), current_principal(), **body, ip=client_ip())


@blp.route("/campaigns/<string:campaign_id>/close", methods=["POST"])
@requires(MANAGE)
@blp.response(200, CampaignSchema)
def close_campaign(campaign_id: str) -> Any:
    """Stop claims; what was never claimed goes back to the year's budget."""
    return campaigns.close_campaign(engine(), current_principal(), campaign_id, ip=client_ip())


# -- claims and vouchers -----------------------------------------------------------------------------------

@blp.route("/claims", methods=["POST"])
@requires(CLAIM)
@idempotent
@blp.arguments(ClaimInSchema)
@blp.response(201, VoucherSchema, description="a new voucher")
@blp.alt_response(200, schema=VoucherSchema, description="the voucher this request_id claimed before")
def claim(body: dict[str, Any]) -> Any:
    """Claim one voucher of a campaign for your tenant: inside its claim window, within your
    tenant's limit and the campaign's count (409 naming which)."""
    voucher, created = claims.claim(engine(), current_principal(), body["campaign_id"], request_key=body["request_id"],
                                    ip=client_ip())
    return voucher, 201 if created else 200


@blp.route("")
@requires(READ)
@blp.arguments(VoucherQuery, location="query")
@blp.response(200, page_schema(VoucherSchema, "VoucherPage"))
def list_vouchers(args: dict[str, Any]) -> Any:
    """Your tenant's vouchers (platform staff: every tenant's) with what is left and when they expire."""
    rows, total = claims.list_vouchers(engine(), current_principal(), status=args["status"],
                                       campaign_id=args["campaign_id"], tenant_id=args["tenant_id"],
                                       offset=offset(args), limit=args["page_size"])
    return page(rows, total, args)


@blp.route("/<string:voucher_id>")
@requires(READ)
@blp.response(200, VoucherSchema)
def get_voucher(voucher_id: str) -> Any:
    """One voucher of your tenant."""
    return claims.get_voucher(engine(), current_principal(), voucher_id)


# -- redemptions ---------------------------------------------------------------------------------------------

@blp.route("/redemptions")
class Redemptions(MethodView):
    @requires(READ)
    @blp.arguments(RedemptionQuery, location="query")
    @blp.response(200, page_schema(RedemptionSchema, "VoucherRedemptionPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """Your tenant's redemptions (platform staff: every tenant's), newest first."""
        rows, total = redemptions.list_redemptions(engine(), current_principal(), status=args["status"],
                                                   bill_id=args["bill_id"], voucher_id=args["voucher_id"],
                                                   tenant_id=args["tenant_id"], offset=offset(args),
                                                   limit=args["page_size"])
        return page(rows, total, args)

    @requires(REDEEM)
    @idempotent
    @blp.arguments(RedemptionInSchema)
    @blp.response(201, RedemptionSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Redeem a voucher against one of your tenant's closed bills. The ``voucher_redemption``
        process quotes (the ratio of the bill, once per period, the voucher's remaining value) and
        holds at once: ``held`` then waits for an operator's review; ``refused`` says why not."""
        return redemptions.request(engine(), current_principal(), **body, ip=client_ip())


@blp.route("/redemptions/<string:redemption_id>")
@requires(READ)
@blp.response(200, RedemptionSchema)
def get_redemption(redemption_id: str) -> Any:
    return redemptions.get(engine(), current_principal(), redemption_id)


@blp.route("/redemptions/<string:redemption_id>/decision", methods=["POST"])
@requires(MANAGE)
@blp.arguments(DecisionSchema)
@blp.response(200, RedemptionSchema)
def decide(body: dict[str, Any], redemption_id: str) -> Any:
    """Review a held redemption: approve (apply all that is held), reduce (apply ``amount``) or
    reject (release the hold). The credit goes to the bill's redemptions, the voucher and the
    tenant's ledger in one transaction. 409 when nothing waits for a review."""
    return redemptions.decide(engine(), current_principal(), redemption_id, **body)


# -- overview -------------------------------------------------------------------------------------------------

@blp.route("/overview")
@requires(MANAGE)
@blp.arguments(OverviewQuery, location="query")
@blp.response(200, OverviewSchema)
def get_overview(args: dict[str, Any]) -> Any:
    """Budget, issued, claimed, redeemed and expired per year, per campaign and per tenant."""
    return overview.overview(engine(), current_principal(), year=args["year"])


@blp.route("/overview.csv")
@requires(MANAGE)
@blp.arguments(OverviewQuery, location="query")
@blp.response(200, content_type="text/csv", description="level (year, campaign, tenant), then the figures")
def overview_csv(args: dict[str, Any]) -> Any:
    """The overview as CSV: one row per year, per campaign and per tenant and year."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in overview.csv_rows(engine(), current_principal(), year=args["year"]):
        writer.writerow(row)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="vouchers-overview.csv"'})
