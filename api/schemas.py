"""Marshmallow schemas shared by several blueprints."""

from __future__ import annotations

from marshmallow import Schema, fields


class FindingSchema(Schema):
    file = fields.String()
    line = fields.Integer(allow_none=True)
    element_id = fields.String(allow_none=True)
    message = fields.String()


class ErrorSchema(Schema):
    """Every error body (api/errors.py); the OpenAPI document's ``Error`` (api/docs.py)."""

    code = fields.String(required=True, metadata={"description": "machine-readable, e.g. not_found, "
                                                                 "method_not_allowed, invalid_input"})
    message = fields.String(required=True, metadata={"description": "for people"})
    errors = fields.List(fields.Dict(), required=True,
                         metadata={"description": "details, e.g. {field, message} per invalid field; "
                                                  "empty when there are none (never null)"})
