"""Process definitions (deploy, list, versions, exact XML), instances, incidents and messages."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.pagination import PageArgs, offset, page, page_schema
from api.schemas import FindingSchema
from api.security import client_ip, current_principal, engine, requires
from engine import processes
from engine.errors import InvalidInput
from engine.models import Incident, ProcessInstance
from engine.registry import export_xml, visible_definition
from engine.runtime.start_policy import api_start_check

blp = Blueprint("processes", __name__, url_prefix="/api/v1", description="BPMN processes: deploy, run, follow")


class DefinitionSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    name = fields.String(allow_none=True)
    tenant_id = fields.String(allow_none=True, metadata={"description": "null: platform-wide"})
    parser = fields.String(metadata={"description": "spiff or camunda"})
    filename = fields.String()
    deployment_id = fields.Integer()
    created_at = fields.DateTime()


class DeployedSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    created = fields.Boolean(metadata={"description": "false: identical bytes were deployed before"})


class DeploymentSchema(Schema):
    deployment_id = fields.Integer(allow_none=True)
    definitions = fields.List(fields.Nested(DeployedSchema))
    warnings = fields.List(fields.Nested(FindingSchema))


class UploadSchema(Schema):
    files = fields.List(fields.Raw(metadata={"type": "string", "format": "binary"}), required=True,
                        metadata={"description": "repeatable: .bpmn, .dmn and form .json files"})
    name = fields.String(load_default="")


class DefinitionQuery(PageArgs):
    key = fields.String(load_default=None, metadata={"description": "substring of the process key"})


class StartSchema(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    business_key = fields.String(load_default=None, validate=validate.Length(max=200))
    variables = fields.Dict(keys=fields.String(), load_default=dict)
    tenant_id = fields.String(load_default=None, metadata={"description": "platform staff only: the tenant"})


class InstanceSchema(Schema):
    id = fields.String()
    tenant_id = fields.String()
    process_key = fields.String()
    business_key = fields.String(allow_none=True)
    initiator = fields.String(allow_none=True)
    status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)


class CurrentTaskSchema(Schema):
    id = fields.String()
    task_spec = fields.String()
    task_name = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    created_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)


class HistorySchema(Schema):
    task_guid = fields.String()
    task_spec = fields.String()
    task_name = fields.String(allow_none=True)
    task_type = fields.String()
    state = fields.String()
    actor = fields.String(allow_none=True)
    at = fields.DateTime()
    data_changed = fields.Dict(allow_none=True)


class IncidentSchema(Schema):
    id = fields.String()
    instance_id = fields.String()
    tenant_id = fields.String()
    task_spec = fields.String(allow_none=True)
    kind = fields.String()
    error_code = fields.String(allow_none=True)
    message = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)


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


class IncidentQuery(PageArgs):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved"]))
    instance_id = fields.String(load_default=None)


class MessageSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    correlation_keys = fields.Dict(keys=fields.String(), load_default=dict)
    payload = fields.Dict(keys=fields.String(), load_default=dict)
    tenant_id = fields.String(load_default=None, metadata={"description": "platform staff only: the tenant"})


class DeliveredSchema(Schema):
    instance_id = fields.String()


def _tenant_for(body_tenant: str | None) -> str:
    principal = current_principal()
    if principal.tenant_id is not None:
        return principal.tenant_id
    if not body_tenant:
        raise InvalidInput("platform staff must name the tenant", errors=[{"field": "tenant_id",
                                                                            "message": "required"}])
    return body_tenant


@blp.route("/process-definitions")
class Definitions(MethodView):
    @requires("process-definition:read")
    @blp.arguments(DefinitionQuery, location="query")
    @blp.response(200, page_schema(DefinitionSchema, "DefinitionPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """List process definitions: the newest version of each key you can see."""
        with engine().db.read() as s:
            rows, total = processes.list_definitions(s, current_principal(), key=args["key"],
                                                     limit=args["page_size"], offset=offset(args))
        return page(rows, total, args)

    @requires("process-definition:deploy")
    @blp.arguments(UploadSchema, location="files", as_kwargs=True)
    @blp.response(201, DeploymentSchema)
    def post(self, **_: Any) -> Any:
        """Deploy a set of BPMN, DMN and form files (multipart, repeatable field ``files``).

        Platform staff deploy platform-wide; a tenant admin deploys a version that only its tenant
        uses. Rejected deployments answer 400 listing each error with file, line and element id,
        and store nothing."""
        uploads = request.files.getlist("files")
        if not uploads:
            raise InvalidInput("no files", errors=[{"field": "files", "message": "at least one file is required"}])
        files = {}
        for upload in uploads:
            name = (upload.filename or "").rsplit("/", 1)[-1]
            if not name:
                raise InvalidInput("a file has no name", errors=[{"field": "files", "message": "filename missing"}])
            files[name] = upload.read()
        principal = current_principal()
        result = engine().registry.deploy(files, tenant_id=principal.tenant_id, actor=principal.username,
                                          name=request.form.get("name", ""), ip=client_ip())
        return {"deployment_id": result.deployment_id, "warnings": result.warnings,
                "definitions": [{"key": d.key, "version": d.version, "created": d.created}
                                for d in result.definitions]}


@blp.route("/process-definitions/<string:key>/versions")
@requires("process-definition:read")
@blp.response(200, DefinitionSchema(many=True))
def versions(key: str) -> Any:
    """Every version of a key you can see, newest first."""
    with engine().db.read() as s:
        return processes.list_versions(s, current_principal(), key)


@blp.route("/process-definitions/<string:key>/versions/<int:version>/xml")
@requires("process-definition:read")
@blp.response(200, content_type="application/xml", description="the uploaded bytes, unchanged")
def definition_xml(key: str, version: int) -> Any:
    """Export the BPMN XML exactly as it was uploaded."""
    with engine().db.read() as s:
        definition = visible_definition(s, key, version, current_principal().tenant_id)
        data = export_xml(s, definition)
    return Response(data, mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{definition.filename}"'})


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
            rows, total = processes.page(s, q, ProcessInstance.created_at.desc(), args["page_size"], offset(args))
        return page(rows, total, args)

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


@blp.route("/incidents")
@requires("incident:read")
@blp.arguments(IncidentQuery, location="query")
@blp.response(200, page_schema(IncidentSchema, "IncidentPage"))
def list_incidents(args: dict[str, Any]) -> Any:
    """Instances stuck on a failing task, for an operator to look at and retry."""
    q = processes.incidents_query(current_principal(), status=args["status"], instance_id=args["instance_id"])
    with engine().db.read() as s:
        rows, total = processes.page(s, q, Incident.created_at.desc(), args["page_size"], offset(args))
    return page(rows, total, args)


@blp.route("/incidents/<string:incident_id>/retry", methods=["POST"])
@requires("incident:retry")
@blp.response(200, InstanceSchema)
def retry_incident(incident_id: str) -> Any:
    """Run the failed task again; a new incident is raised if it fails again."""
    principal = current_principal()
    return engine().runtime.retry_incident(incident_id, actor=principal.username, tenant_id=principal.tenant_id,
                                           ip=client_ip())


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


class UrgedSchema(Schema):
    tasks = fields.List(fields.String(), metadata={"description": "the open tasks now in their holders' urged tab"})


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
