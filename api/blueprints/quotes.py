"""Quotes over HTTP: price items or an application as they will be billed."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.security import current_principal, engine, requires
from engine.domains.billing import quotes, service

blp = Blueprint("quotes", __name__, url_prefix="/api/v1/quotes", description="Quotes")


class QuoteItemInSchema(Schema):
    spec_id = fields.String(load_default=None, allow_none=True)
    component = fields.String(load_default=None, allow_none=True, metadata={
        "description": "instead of spec_id: vcpu, memory_gib, gpu:H100, input_tokens:<model>, ..."})
    quantity = fields.Raw(load_default=1, metadata={
        "description": "units running (a spec or time-priced component), or units used per day (per-use)"})
    start = fields.DateTime(required=True)
    end = fields.DateTime(required=True)
    billing_mode = fields.String(load_default=None, allow_none=True)
    plan_code = fields.String(load_default=None, allow_none=True)


class QuoteInSchema(Schema):
    items = fields.List(fields.Nested(QuoteItemInSchema), load_default=None,
                        validate=validate.Length(min=1, max=quotes.MAX_ITEMS))
    application_id = fields.String(load_default=None, allow_none=True, metadata={
        "description": "instead of items: the application's lines, running from start to end"})
    start = fields.DateTime(load_default=None, allow_none=True)
    end = fields.DateTime(load_default=None, allow_none=True)
    compare_day_rules = fields.Boolean(load_default=False, metadata={
        "description": "add each applicable day rule's total, and graduated beside volume for tiered plans"})
    tenant_id = fields.String(load_default=None, allow_none=True, metadata={"description": "platform staff only"})


class QuoteLineSchema(Schema):
    day = fields.String()
    quantity = fields.String()
    amount = fields.String(metadata={"description": "rounded once, 0.01 CNY half-up, as the bill line will be"})
    explanation = fields.Dict()


class QuoteItemSchema(Schema):
    spec_id = fields.String(allow_none=True)
    component = fields.String(allow_none=True)
    quantity = fields.String()
    start = fields.DateTime()
    end = fields.DateTime()
    plan = fields.Dict(metadata={"description": "the plan chosen and why"})
    lines = fields.List(fields.Nested(QuoteLineSchema))
    total = fields.String()
    comparison = fields.Dict(metadata={"description": "day_rules: {rule: total}; tier_modes: {mode: total}"})


class QuoteSchema(Schema):
    currency = fields.String()
    items = fields.List(fields.Nested(QuoteItemSchema))
    total = fields.String()


@blp.route("")
class Quotes(MethodView):
    @requires("billing:quote")
    @blp.arguments(QuoteInSchema)
    @blp.response(200, QuoteSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Price a list of (spec or component, quantity, start, end), or an application's lines, day by
        day with the code that bills them: the quote is the bill for the same inputs."""
        return service.quote(engine(), current_principal(), **body)
