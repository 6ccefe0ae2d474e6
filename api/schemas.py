"""Marshmallow schemas shared by several blueprints."""

from __future__ import annotations

from marshmallow import Schema, fields


class FindingSchema(Schema):
    file = fields.String()
    line = fields.Integer(allow_none=True)
    element_id = fields.String(allow_none=True)
    message = fields.String()


class ErrorSchema(Schema):
    code = fields.String()
    message = fields.String()
    errors = fields.Raw(allow_none=True)
