"""Bills over HTTP: bills, lines by dimension, analysis, CSV; adjustments and closing by staff."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from engine.domains.billing import plans, service

blp = Blueprint("bills", __name__, url_prefix="/api/v1/bills", description="Bills")


class BillSchema(Schema):
    id = fields.String()
    tenant_id = fields.String()
    period = fields.String(metadata={"description": "YYYY-MM"})
    status = fields.String(metadata={"description": "open, or closed (never changes again)"})
    currency = fields.String()
    total = fields.String(metadata={"description": "the sum of the bill's lines"})
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class LineSchema(Schema):
    id = fields.String()
    bill_id = fields.String()
    tenant_id = fields.String()
    day = fields.String()
    kind = fields.String(metadata={"description": "rated, or adjustment (with its reason)"})
    source = fields.String(metadata={"description": "resource, usage or manual"})
    resource_id = fields.String(allow_none=True)
    component = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    spec_id = fields.String(allow_none=True)
    plan_id = fields.String(allow_none=True)
    plan_code = fields.String(allow_none=True)
    plan_version = fields.Integer(allow_none=True)
    billing_mode = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    quantity = fields.String()
    amount = fields.String(metadata={"description": "rounded once, 0.01 CNY half-up"})
    organization_id = fields.String(allow_none=True)
    business_system_id = fields.String(allow_none=True)
    provider = fields.String(allow_none=True)
    resource_type = fields.String(allow_none=True)
    explanation = fields.Dict(metadata={"description": "which plan was chosen and why, day rule, discount"})
    reason = fields.String(allow_none=True)


class BillQuery(PageArgs):
    period = fields.String(load_default=None, validate=validate.Regexp(r"^\d{4}-\d{2}$"))
    status = fields.String(load_default=None, validate=validate.OneOf(("open", "closed")))
    tenant_id = fields.String(load_default=None, metadata={"description": "platform staff: one tenant"})


class LineFilters(Schema):
    tenant_id = fields.String(load_default=None, metadata={"description": "platform staff: one tenant"})
    organization_id = fields.String(load_default=None)
    business_system_id = fields.String(load_default=None)
    provider = fields.String(load_default=None)
    resource_type = fields.String(load_default=None)
    billing_mode = fields.String(load_default=None, validate=validate.OneOf(plans.BILLING_MODES))
    component = fields.String(load_default=None)
    kind = fields.String(load_default=None, validate=validate.OneOf(("rated", "adjustment")))
    bill_id = fields.String(load_default=None)
    day_from = fields.Date(load_default=None)
    day_to = fields.Date(load_default=None)


class LineQuery(PageArgs, LineFilters):
    pass


class AnalysisSchema(Schema):
    currency = fields.String()
    this_month = fields.Dict(metadata={"description": "total and by_billing_mode"})
    this_year = fields.Dict(metadata={"description": "total and by_billing_mode"})
    daily_trend = fields.List(fields.Dict(), metadata={"description": "the last 31 days: day, amount"})
    top = fields.Dict(metadata={"description": "per dimension, this month's five largest: value, amount"})


class AdjustmentInSchema(Schema):
    amount = fields.Raw(required=True, metadata={"description": "CNY, negative for a credit, at most 2 decimals"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


def _filters(args: dict[str, Any]) -> dict[str, Any]:
    return {k: args.get(k) for k in LineFilters().fields}


@blp.route("")
class Bills(MethodView):
    @requires("billing:read")
    @blp.arguments(BillQuery, location="query")
    @blp.response(200, page_schema(BillSchema, "BillPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """Monthly bills: your tenant's (staff: every tenant's), newest first."""
        rows, total = service.list_bills(engine(), current_principal(), offset=offset(args), limit=args["page_size"],
                                         period=args["period"], status=args["status"], tenant_id=args["tenant_id"])
        return page(rows, total, args)


@blp.route("/lines")
class Lines(MethodView):
    @requires("billing:read")
    @blp.arguments(LineQuery, location="query")
    @blp.response(200, page_schema(LineSchema, "BillLinePage"))
    def get(self, args: dict[str, Any]) -> Any:
        """Bill lines filtered by any dimension (provider, tenant, organisation, business system, resource
        type, billing mode), bill and days."""
        rows, total = service.list_lines(engine(), current_principal(), offset=offset(args),
                                         limit=args["page_size"], **_filters(args))
        return page(rows, total, args)


@blp.route("/lines.csv")
class LinesCsv(MethodView):
    @requires("billing:read")
    @blp.arguments(LineFilters, location="query")
    @blp.response(200, content_type="text/csv", description="one header row, then one row per line")
    def get(self, args: dict[str, Any]) -> Any:
        """The filtered lines as CSV."""
        text = service.lines_csv(engine(), current_principal(), **_filters(args))
        return Response(text, mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=bill-lines.csv"})


@blp.route("/analysis")
class Analysis(MethodView):
    @requires("billing:read")
    @blp.arguments(LineFilters, location="query")
    @blp.response(200, AnalysisSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """This month's and this year's totals by billing mode, the daily trend and the top five per
        dimension, for the filtered lines."""
        return service.analysis(engine(), current_principal(), **_filters(args))


@blp.route("/<string:bill_id>")
class BillItem(MethodView):
    @requires("billing:read")
    @blp.response(200, BillSchema)
    def get(self, bill_id: str) -> Any:
        """One bill (404 for another tenant's)."""
        return service.get_bill(engine(), current_principal(), bill_id)


@blp.route("/<string:bill_id>/adjustments")
class Adjustments(MethodView):
    @requires("billing:manage")
    @blp.arguments(AdjustmentInSchema)
    @blp.response(201, LineSchema)
    def post(self, body: dict[str, Any], bill_id: str) -> Any:
        """Add an adjustment line with its reason (platform staff; audited). A closed bill never changes:
        the correction goes onto the tenant's open bill of this month, naming the bill it corrects."""
        return service.adjust(engine(), current_principal(), bill_id, body, ip=client_ip())


@blp.route("/<string:bill_id>/close")
class CloseBill(MethodView):
    @requires("billing:manage")
    @blp.response(200, BillSchema)
    def post(self, bill_id: str) -> Any:
        """Close a bill (platform staff): its month's open days are rated and closed first."""
        return service.close_bill(engine(), current_principal(), bill_id)
