"""The task inbox over HTTP: todo, done and urged tabs; open, claim, unclaim, delegate, complete, return."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.pagination import PageArgs, offset, page, page_schema
from api.schemas import InstanceSchema, OpenTaskSchema
from api.security import client_ip, current_principal, engine, requires
from engine import inbox_tabs
from engine.principal import Principal

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="The task inbox")


class TaskSchema(OpenTaskSchema):
    instance_id = fields.String()
    tenant_id = fields.String()
    process_key = fields.String()
    business_key = fields.String(allow_none=True)
    countersign = fields.String(allow_none=True)
    delegated_by = fields.String(allow_none=True)
    returned = fields.Dict(allow_none=True)
    urged = fields.Dict(allow_none=True, metadata={"description": "who urged it and when"})
    completed_at = fields.DateTime(allow_none=True, metadata={"description": "done tab only"})


class TabArgs(PageArgs):
    tab = fields.String(load_default="todo", validate=validate.OneOf(["todo", "done", "urged"]))


class CandidateSchema(Schema):
    kind = fields.String()
    value = fields.String()


class TaskDetailSchema(Schema):
    task = fields.Nested(TaskSchema)
    candidates = fields.List(fields.Nested(CandidateSchema))
    schema = fields.Dict(allow_none=True, metadata={"description": "JSON Schema (2020-12) of the form"})
    ui_schema = fields.Dict(allow_none=True)
    data = fields.Dict(metadata={"description": "what the form starts with"})
    context = fields.Dict()


class CompleteSchema(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict)


class DelegateSchema(Schema):
    to_user = fields.String(required=True, validate=validate.Length(min=1, max=100))


class ReturnSchema(Schema):
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


def _scope(principal: Principal) -> tuple[str | None, str, tuple[str, ...]]:
    """Whose inbox: a tenant user's within the tenant; platform staff's across tenants (their tasks
    come from lanes named after platform roles, e.g. ``platform_operator``)."""
    return principal.tenant_id, principal.username, principal.acting_roles


def _view(task: Any) -> dict[str, Any]:
    return {**vars(task), "urged": getattr(task, "urged", None)}


@blp.route("")
@requires("task:read")
@blp.arguments(TabArgs, location="query")
@blp.response(200, page_schema(TaskSchema, "TaskPage"))
def list_tasks(args: dict[str, Any]) -> Any:
    """Your tasks: ``todo`` (assigned to you or offered to you and unclaimed), ``done`` (completed by you),
    ``urged`` (todo tasks whose initiator urged them)."""
    tenant_id, user, roles = _scope(current_principal())
    if args["tab"] in ("done", "urged"):
        read = inbox_tabs.done if args["tab"] == "done" else inbox_tabs.urged
        with engine().db.read() as s:
            items, total = read(s, tenant_id, user, roles, args["page_size"], offset(args))
        return page(items, total, args)
    result = engine().inbox.list_tasks(tenant_id, user, roles, args["page"], args["page_size"])
    return page([_view(t) for t in result.items], result.total, args)


@blp.route("/<string:task_id>")
@requires("task:read")
@blp.response(200, TaskDetailSchema)
def get_task(task_id: str) -> Any:
    """A task opened for work: the task, who may work it, its form, prefilled data and process context."""
    tenant_id, user, roles = _scope(current_principal())
    detail = engine().inbox.get_task(tenant_id, task_id, user=user, roles=roles)
    return {"task": _view(detail.task), "candidates": [{"kind": k, "value": v} for k, v in detail.candidates],
            "schema": detail.schema, "ui_schema": detail.ui_schema, "data": detail.data,
            "context": detail.context}


@blp.route("/<string:task_id>/claim", methods=["POST"])
@requires("task:work")
@blp.response(200, TaskSchema)
def claim(task_id: str) -> Any:
    """Take the task: it leaves the other candidates' todo lists."""
    tenant_id, user, roles = _scope(current_principal())
    return _view(engine().inbox.claim(tenant_id, task_id, user=user, roles=roles))


@blp.route("/<string:task_id>/unclaim", methods=["POST"])
@requires("task:work")
@blp.response(200, TaskSchema)
def unclaim(task_id: str) -> Any:
    """Give the task back to its candidates."""
    tenant_id, user, roles = _scope(current_principal())
    return _view(engine().inbox.unclaim(tenant_id, task_id, user=user, roles=roles))


@blp.route("/<string:task_id>/delegate", methods=["POST"])
@requires("task:work")
@blp.arguments(DelegateSchema)
@blp.response(200, TaskSchema)
def delegate(body: dict[str, Any], task_id: str) -> Any:
    """Hand the task to another user (you must hold it)."""
    tenant_id, user, roles = _scope(current_principal())
    return _view(engine().inbox.delegate(tenant_id, task_id, user=user, to_user=body["to_user"], roles=roles))


@blp.route("/<string:task_id>/complete", methods=["POST"])
@requires("task:work")
@blp.arguments(CompleteSchema)
@blp.response(200, InstanceSchema)
def complete(body: dict[str, Any], task_id: str) -> Any:
    """Complete the task with its form data (validated against the form's JSON Schema: 422 names each field)."""
    tenant_id, user, roles = _scope(current_principal())
    return engine().inbox.complete(tenant_id, task_id, user=user, data=body["data"], roles=roles, ip=client_ip())


@blp.route("/<string:task_id>/return", methods=["POST"])
@requires("task:work")
@blp.arguments(ReturnSchema)
@blp.response(200, InstanceSchema)
def return_task(body: dict[str, Any], task_id: str) -> Any:
    """Send the task back to the user task before it (409 when there is none)."""
    tenant_id, user, roles = _scope(current_principal())
    return engine().inbox.return_task(tenant_id, task_id, user=user, comment=body["comment"], roles=roles)
