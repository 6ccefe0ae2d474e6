"""Operators over HTTP: what BPMN service tasks can call (``tasks.registry``), for the designer."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from api.blueprints import Blueprint
from api.security import engine, requires

blp = Blueprint("operators", __name__, url_prefix="/api/v1/operators",
                description="The registered operators that service tasks call")


class OperatorSchema(Schema):
    name = fields.String(metadata={"description": "what a service task's operator names, e.g. orders/create"})
    description = fields.String(metadata={"description": "one line; empty when the operator has none"})
    mode = fields.String(metadata={"description": "inline (runs in the step) or async (a queued job)"})
    timeout_s = fields.Float(allow_none=True, metadata={
        "description": "its own time limit in seconds (an async job's lease is this plus a margin); null: none set"})


@blp.route("")
@requires("process-definition:read")
@blp.response(200, OperatorSchema(many=True))
def list_operators() -> Any:
    """Every registered operator, by name."""
    registry = engine().operators
    return [registry.get(name) for name in registry.names()]
