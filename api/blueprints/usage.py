"""Usage over HTTP: CloudEvents batches in; meters (how each component adds up)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.security import current_principal, engine, requires
from engine.domains.billing import service, usage

blp = Blueprint("usage", __name__, url_prefix="/api/v1/usage", description="Usage")


class UsageInSchema(Schema):
    events = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1, max=usage.MAX_BATCH),
                         metadata={"description": "CloudEvents 1.0 (id, source, specversion, type "
                                                  f"({', '.join(usage.TYPES)}), time, data: component, quantity, "
                                                  "model, resource_id, spec_id, organization_id, business_system_id, "
                                                  "provider, resource_type, value_key); tenantid from platform "
                                                  "callers only"})


class RejectedSchema(Schema):
    index = fields.Integer()
    field = fields.String()
    reason = fields.String()


class UsageResultSchema(Schema):
    accepted = fields.Integer(metadata={"description": "new events stored"})
    duplicates = fields.Integer(metadata={"description": "events already stored (same source and id): unchanged"})
    rejected = fields.List(fields.Nested(RejectedSchema), metadata={"description": "refused events; the rest is kept"})


class MeterInSchema(Schema):
    aggregation = fields.String(required=True, validate=validate.OneOf(usage.AGGREGATIONS))
    window = fields.String(load_default="day", validate=validate.OneOf(usage.WINDOWS), metadata={
        "description": "aggregate per hour or per day; a day's windows are summed"})
    factor = fields.Raw(load_default="1", metadata={"description": "multiplies the result (1/3600: seconds to hours)"})


class MeterSchema(Schema):
    component = fields.String()
    aggregation = fields.String()
    window = fields.String()
    factor = fields.String()


@blp.route("")
class Usage(MethodView):
    @requires("usage:ingest")
    @blp.arguments(UsageInSchema)
    @blp.response(200, UsageResultSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Ingest a batch of usage events. A replayed event changes nothing; a malformed one is refused
        with its index and reason while the rest of the batch is kept."""
        return service.ingest_usage(engine(), current_principal(), body["events"])


@blp.route("/meters")
class Meters(MethodView):
    @requires("billing:quote")
    @blp.response(200, MeterSchema(many=True))
    def get(self) -> Any:
        """How each component's usage adds up."""
        return service.list_meters(engine())


@blp.route("/meters/<string:component>")
class MeterItem(MethodView):
    @requires("billing:manage")
    @blp.arguments(MeterInSchema)
    @blp.response(200, MeterSchema)
    def put(self, body: dict[str, Any], component: str) -> Any:
        """Set a component's meter (platform staff); applies from the next rating of a day."""
        return service.set_meter(engine(), current_principal(), component, body)
