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


class InstanceSchema(Schema):
    """A process instance: the answer of every call that moves one (start, task complete, retry, ...)."""

    id = fields.String()
    tenant_id = fields.String()
    process_key = fields.String()
    business_key = fields.String(allow_none=True)
    initiator = fields.String(allow_none=True)
    status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)


class StepSchema(Schema):
    """What every history step has (an instance's history, an application's); each adds its own fields."""

    task_spec = fields.String()
    task_name = fields.String(allow_none=True)
    task_type = fields.String()
    state = fields.String()
    actor = fields.String(allow_none=True)
    at = fields.DateTime()


class OpenTaskSchema(Schema):
    """What every view of a human task has (an instance's current tasks, an application's, the inbox's)."""

    id = fields.String()
    task_spec = fields.String()
    task_name = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    created_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)
