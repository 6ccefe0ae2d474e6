"""Process instances over HTTP: start, list, follow (current tasks, history, incidents), suspend,
resume, cancel, urge; and the correlated messages that move waiting instances."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.blueprints.incidents import IncidentSchema
from api.pagination import PageArgs, page_schema, query_page
from api.schemas import InstanceSchema, OpenTaskSchema, StepSchema
from api.security import client_ip, current_principal, engine, requires
from engine import processes
from engine.errors import InvalidInput
from engine.models import ProcessInstance
from engine.runtime.start_policy import api_start_check

blp = Blueprint("process_instances", __name__, url_prefix="/api/v1",
                description="BPMN process instances: start, follow, suspend, resume, cancel, urge; messages")


class StartSchema(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    business_key = fields.String(load_default=None, validate=validate.Length(max=200))
    variables = fields.Dict(keys=fields.String(), load_default=dict)
    tenant_id = fields.String(load_default=None, metadata={"description": "platform staff only: the tenant"})


class CurrentTaskSchema(OpenTaskSchema):
    pass


class HistorySchema(StepSchema):
    task_guid = fields.String()
    data_changed = fields.Dict(allow_none=True)


class InstanceDetailSchema(InstanceSchema):
    version = fields.Integer()
    current_tasks = fields.List(fields.Nested(CurrentTaskSchema))
    history = fields.List(fields.Nested(HistorySchema))
    incidents = fields.List(fields.Nested(IncidentSchema))


class InstanceQuery(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(
        ["running", "suspended", "incident", "completed", "cancelled"]))
    key = fields.String(load_default=None)
    business_key = fields.String(load_default=None)
    initiator = fields.String(load_default=None)


class MessageSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    correlation_keys = fields.Dict(keys=fields.String(), load_default=dict)
    payload = fields.Dict(keys=fields.String(), load_default=dict)
    tenant_id = fields.String(load_default=None, metadata={"description": "platform staff only: the tenant"})


class DeliveredSchema(Schema):
    instance_id = fields.String()


class UrgedSchema(Schema):
    tasks = fields.List(fields.String(), metadata={"description": "the open tasks now in their holders' urged tab"})


def _tenant_for(body_tenant: str | None) -> str:
    principal = current_principal()
    if principal.tenant_id is not None:
        return principal.tenant_id
    if not body_tenant:
        raise InvalidInput("platform staff must name the tenant", errors=[{"field": "tenant_id",
                                                                            "message": "required"}])
    return body_tenant


@blp.route("/process-instances")
class Instances(MethodView):
    @requires("process-instance:read")
    @blp.arguments(InstanceQuery, location="query")
    @blp.response(200, page_schema(InstanceSchema, "InstancePage"))
    def get(self, args: dict[str, Any]) -> Any:
        """List process instances of your tenant, newest first."""
        q = processes.instances_query(engine().authorizer, current_principal(), status=args["status"], key=args["key"],
                                      business_key=args["business_key"], initiator=args["initiator"])
        with engine().db.read() as s:
            return query_page(s, q, ProcessInstance.created_at.desc(), args)

    @requires("process-instance:start")
    @blp.arguments(StartSchema)
    @blp.response(201, InstanceSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Start an instance of the newest version of a process key (your tenant's own version wins).

        The platform's internal processes (application, approval, order, ...) are started by their
        own APIs: 403 here. A model that names its starters (``candidateStarterGroups``) is started
        by those roles only (403). ``variables`` must match the start event's form (422 naming each
        field); a process without a start form takes none."""
        principal = current_principal()
        runtime = engine().runtime
        check = api_start_check(principal, runtime.internal_keys, body["variables"])
        return runtime.start(body["key"], tenant_id=_tenant_for(body["tenant_id"]),
                             initiator=principal.username, business_key=body["business_key"],
                             variables=body["variables"], ip=client_ip(), check=check)


@blp.route("/process-instances/<string:instance_id>")
@requires("process-instance:read")
@blp.response(200, InstanceDetailSchema)
def get_instance(instance_id: str) -> Any:
    """An instance: state, current tasks, history and incidents."""
    with engine().db.read() as s:
        view = processes.instance_view(s, engine().authorizer, current_principal(), instance_id)
    row = view.instance
    return {**{c: getattr(row, c) for c in InstanceSchema().fields}, "version": view.version,
            "current_tasks": view.current_tasks, "history": view.history, "incidents": view.incidents}


def _instance_action(instance_id: str, action: str) -> Any:
    principal = current_principal()
    with engine().db.read() as s:
        processes.get_instance(s, engine().authorizer, principal, instance_id)  # 404 outside the caller's scope
    operation = getattr(engine().runtime, action)
    return operation(instance_id, actor=principal.username, tenant_id=principal.tenant_id, ip=client_ip())


@blp.route("/process-instances/<string:instance_id>/suspend", methods=["POST"])
@requires("process-instance:manage")
@blp.response(200, InstanceSchema)
def suspend(instance_id: str) -> Any:
    """Suspend: no task, timer or message moves it until it is resumed."""
    return _instance_action(instance_id, "suspend")


@blp.route("/process-instances/<string:instance_id>/resume", methods=["POST"])
@requires("process-instance:manage")
@blp.response(200, InstanceSchema)
def resume(instance_id: str) -> Any:
    """Resume a suspended instance."""
    return _instance_action(instance_id, "resume")


@blp.route("/process-instances/<string:instance_id>/cancel", methods=["POST"])
@requires("process-instance:manage")
@blp.response(200, InstanceSchema)
def cancel(instance_id: str) -> Any:
    """Cancel: every open task is cancelled and the instance ends."""
    return _instance_action(instance_id, "cancel")


@blp.route("/process-instances/<string:instance_id>/urge", methods=["POST"])
@requires("process-instance:start")
@blp.response(200, UrgedSchema)
def urge(instance_id: str) -> Any:
    """Urge the people holding this instance's open tasks (initiator only; at most once an hour: 429)."""
    from engine.inbox_tabs import urge as urge_instance

    principal = current_principal()
    if principal.tenant_id is None:
        raise InvalidInput("only the initiator, a tenant user, can urge an instance")
    with engine().db.write() as s:
        tasks = urge_instance(s, tenant_id=principal.tenant_id, instance_id=instance_id, user=principal.username,
                              ip=client_ip())
    return {"tasks": tasks}


@blp.route("/process-messages", methods=["POST"])
@requires("process-message:send")
@blp.arguments(MessageSchema)
@blp.response(200, DeliveredSchema)
def send_message(body: dict[str, Any]) -> Any:
    """Deliver a correlated message (integrations, callbacks). 404 when no instance waits for it;
    403 for the platform's internal processes, which take messages from the platform only."""
    from engine.messages import deliver_message

    principal = current_principal()
    instance_id = deliver_message(engine(), tenant_id=_tenant_for(body["tenant_id"]), name=body["name"],
                                  correlation_keys=body["correlation_keys"], payload=body["payload"],
                                  actor=principal.username, requested=True)
    return {"instance_id": instance_id}
