"""Price plans and tenant discounts over HTTP: tenants read, platform staff manage."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.idempotency import idempotent
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from engine.domains.billing import dayrules, plans, service, tiers

blp = Blueprint("price_plans", __name__, url_prefix="/api/v1/price-plans", description="Price plans")
AMOUNT = "a decimal amount in CNY, as a string (or a JSON number, read exactly as written)"


class BandSchema(Schema):
    up_to = fields.Raw(allow_none=True, metadata={"description": "upper bound, inclusive; null on the last band"})
    price = fields.Raw(required=True, metadata={"description": AMOUNT + " per unit in this band"})


class PlanFieldsSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    billing_mode = fields.String(validate=validate.OneOf(plans.BILLING_MODES))
    unit = fields.String(validate=validate.OneOf(plans.UNITS), metadata={
        "description": "on_demand: hour, day, month or year; subscriptions: month or year; per_use: use"})
    unit_price = fields.Raw(metadata={"description": AMOUNT + " per unit (flat plans)"})
    tier_mode = fields.String(validate=validate.OneOf(tiers.MODES), metadata={
        "description": "graduated: each band prices its own part; volume: the whole quantity at its band"})
    tiers = fields.List(fields.Nested(BandSchema))
    day_rule = fields.String(allow_none=True, validate=validate.OneOf(sorted({*dayrules.MONTH_RULES,
                                                                              *dayrules.YEAR_RULES})), metadata={
        "description": "how a monthly or yearly price becomes a day price (default: ÷ days in that month / year)"})
    day_price = fields.Raw(allow_none=True, metadata={"description": "the fixed_day rule's price per unit and day"})
    proration = fields.String(validate=validate.OneOf(plans.PRORATIONS), metadata={
        "description": "day: a day started counts whole; hour: each hour started counts"})
    valid_to = fields.DateTime(allow_none=True)


class PlanInSchema(PlanFieldsSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    tenant_id = fields.String(load_default=None, allow_none=True, metadata={
        "description": "a tenant's own price; none: the list price"})
    target_kind = fields.String(required=True, validate=validate.OneOf(plans.TARGET_KINDS))
    target = fields.String(required=True, validate=validate.Length(min=1, max=120), metadata={
        "description": "product id, spec id, or component (" + ", ".join(plans.COMPONENTS) + "; :<model> narrows)"})
    billing_mode = fields.String(required=True, validate=validate.OneOf(plans.BILLING_MODES))
    unit = fields.String(required=True, validate=validate.OneOf(plans.UNITS))
    valid_from = fields.DateTime(allow_none=True)


class PlanSchema(Schema):
    id = fields.String()
    code = fields.String()
    version = fields.Integer()
    tenant_id = fields.String(allow_none=True)
    name = fields.String()
    target_kind = fields.String()
    target = fields.String()
    billing_mode = fields.String()
    unit = fields.String()
    unit_price = fields.String()
    tier_mode = fields.String()
    tiers = fields.List(fields.Dict())
    day_rule = fields.String(allow_none=True)
    day_price = fields.String(allow_none=True)
    proration = fields.String()
    valid_from = fields.DateTime()
    valid_to = fields.DateTime(allow_none=True)
    status = fields.String(metadata={"description": "active, superseded (a later version replaced it) or retired"})
    created_at = fields.DateTime()


class PlanQuery(PageArgs):
    code = fields.String(load_default=None)
    target_kind = fields.String(load_default=None, validate=validate.OneOf(plans.TARGET_KINDS))
    target = fields.String(load_default=None)
    billing_mode = fields.String(load_default=None, validate=validate.OneOf(plans.BILLING_MODES))
    status = fields.String(load_default=None)


class DiscountInSchema(Schema):
    tenant_id = fields.String(required=True)
    plan_code = fields.String(load_default=None, allow_none=True, metadata={"description": "none: every plan"})
    kind = fields.String(required=True, validate=validate.OneOf(plans.DISCOUNT_KINDS), metadata={
        "description": "percent off, or a fixed amount off each line (never below zero)"})
    value = fields.Raw(required=True, metadata={"description": "percent (0-100) or " + AMOUNT})
    valid_from = fields.DateTime(allow_none=True)
    valid_to = fields.DateTime(allow_none=True)
    reason = fields.String(load_default="", validate=validate.Length(max=200))


class DiscountSchema(Schema):
    id = fields.String()
    tenant_id = fields.String()
    plan_code = fields.String(allow_none=True)
    kind = fields.String()
    value = fields.String()
    valid_from = fields.DateTime()
    valid_to = fields.DateTime(allow_none=True)
    reason = fields.String()


@blp.route("")
class Plans(MethodView):
    @requires("billing:quote")
    @blp.arguments(PlanQuery, location="query")
    @blp.response(200, page_schema(PlanSchema, "PricePlanPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """Price plans you may see: list prices and your tenant's own (staff: all), each version."""
        filters = {k: args[k] for k in ("code", "target_kind", "target", "billing_mode", "status")}
        rows, total = service.list_plans(engine(), current_principal(), offset=offset(args),
                                         limit=args["page_size"], **filters)
        return page(rows, total, args)

    @requires("billing:manage")
    @idempotent
    @blp.arguments(PlanInSchema)
    @blp.response(201, PlanSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create version 1 of a price plan (platform staff)."""
        return service.create_plan(engine(), current_principal(), body, ip=client_ip())


@blp.route("/discounts")
class Discounts(MethodView):
    @requires("billing:quote")
    @blp.response(200, DiscountSchema(many=True))
    def get(self) -> Any:
        """Discounts: your tenant's (staff: every tenant's)."""
        return service.list_discounts(engine(), current_principal())

    @requires("billing:manage")
    @idempotent
    @blp.arguments(DiscountInSchema)
    @blp.response(201, DiscountSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Give a tenant a discount on one plan code or on all, for a validity period (platform staff)."""
        return service.create_discount(engine(), current_principal(), body, ip=client_ip())


@blp.route("/<string:plan_id>")
class PlanItem(MethodView):
    @requires("billing:quote")
    @blp.response(200, PlanSchema)
    def get(self, plan_id: str) -> Any:
        """One plan version (404 for another tenant's own price)."""
        return service.get_plan(engine(), current_principal(), plan_id)


@blp.route("/<string:plan_id>/versions")
class PlanVersions(MethodView):
    @requires("billing:manage")
    @idempotent
    @blp.arguments(PlanFieldsSchema)
    @blp.response(201, PlanSchema)
    def post(self, body: dict[str, Any], plan_id: str) -> Any:
        """Change a plan: a new version valid from now; what the old one rated keeps its price."""
        return service.new_plan_version(engine(), current_principal(), plan_id, body, ip=client_ip())
