"""Process definitions over HTTP: deploy, validate, simulate, list, versions, and the exact XML."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.input_limits import loads
from api.pagination import PageArgs, offset, page, page_schema
from api.schemas import FindingSchema
from api.security import client_ip, current_principal, engine, requires
from engine import designer, processes
from engine.errors import InvalidInput
from engine.registry import export_xml, visible_definition
from engine.simulate import MAX_STEPS, check_late

blp = Blueprint("process_definitions", __name__, url_prefix="/api/v1/process-definitions",
                description="BPMN process definitions: deploy, validate, simulate, list, versions, XML")


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


class ValidationSchema(Schema):
    valid = fields.Boolean(metadata={"description": "true: deploying these files would be accepted"})
    errors = fields.List(fields.Nested(FindingSchema), metadata={"description": "what deploy would reject"})
    warnings = fields.List(fields.Nested(FindingSchema),
                           metadata={"description": "what deploy would accept but report (XSD, unknown operators)"})


class SimulateFormSchema(Schema):
    files = fields.List(fields.Raw(metadata={"type": "string", "format": "binary"}), metadata={
        "description": "repeatable: .bpmn, .dmn and form .json files, as for deploy (or give key and version)"})
    key = fields.String(load_default=None, metadata={
        "description": "simulate this deployed key (with ``version``) instead of uploaded ``files``"})
    version = fields.Integer(load_default=None, validate=validate.Range(min=1),
                             metadata={"description": "the deployed version of ``key``"})
    process = fields.String(load_default=None, metadata={
        "description": "process id to start (default: the first process that nothing in its file calls)"})
    data = fields.String(load_default=None, metadata={"description": "start variables: a JSON object"})
    tasks = fields.String(load_default=None, metadata={
        "description": "scripted answers: a JSON object, user task id -> the data it is completed with "
                       "(over its form's defaults)"})
    stubs = fields.String(load_default=None, metadata={
        "description": "a JSON object, operator name -> the result service tasks calling it get "
                       "(operators never run; others answer {} and are listed in ``stubbed``)"})
    messages = fields.String(load_default=None, metadata={
        "description": "a JSON object, message or signal name -> the payload (an object) it is "
                       "answered with (others get {})"})
    late = fields.String(load_default=None, metadata={
        "description": "a JSON object, user task id -> an ISO 8601 duration (e.g. \"PT48H\"): the task is "
                       "answered only after that much time, so the timers drawn to fire meanwhile "
                       "(escalations, deadlines) fire first"})
    max_steps = fields.Integer(load_default=MAX_STEPS, validate=validate.Range(min=1, max=MAX_STEPS),
                               metadata={"description": "stop after this many tasks, reporting a loop"})


class SimulationSchema(Schema):
    valid = fields.Boolean(metadata={"description": "false: the files have errors and nothing ran"})
    errors = fields.List(fields.Nested(FindingSchema), metadata={
        "description": "why it could not run: validation errors, or no such process"})
    warnings = fields.List(fields.Nested(FindingSchema))
    process = fields.String(allow_none=True, metadata={"description": "the process id run (null: nothing ran)"})
    completed = fields.Boolean(metadata={"description": "true: it reached an end event"})
    path = fields.List(fields.String(), metadata={"description": "element ids in the order they completed"})
    labels = fields.List(fields.String(), metadata={"description": "the same steps' names (ids where unnamed)"})
    stopped_at = fields.List(fields.String(), metadata={
        "description": "not completed: element ids of the tasks left waiting, ready or failed"})
    problem = fields.String(allow_none=True, metadata={"description": "why it did not finish"})
    stubbed = fields.List(fields.String(), metadata={"description": "operators answered {} (no stub given)"})


def _uploaded_files(required: bool = True) -> dict[str, bytes]:
    """The multipart field ``files`` as name -> bytes (a path in a name is dropped)."""
    uploads = request.files.getlist("files")
    if not uploads and required:
        raise InvalidInput("no files", errors=[{"field": "files", "message": "at least one file is required"}])
    files = {}
    for upload in uploads:
        name = (upload.filename or "").rsplit("/", 1)[-1]
        if not name:
            raise InvalidInput("a file has no name", errors=[{"field": "files", "message": "filename missing"}])
        files[name] = upload.read()
    return files


def _json_object(args: dict[str, Any], name: str, values: str = "any") -> dict[str, Any]:
    """A form field holding a JSON object (parsed within the API's JSON limits); {} when absent."""
    text = args.get(name)
    if text is None or text == "":
        return {}
    try:
        value = loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{name} is not JSON", errors=[{"field": name, "message": f"not JSON: {exc}"}]) from exc
    if not isinstance(value, dict):
        raise InvalidInput(f"{name} must be a JSON object", errors=[{"field": name, "message": "a JSON object"}])
    if values == "object" and not all(isinstance(v, dict) for v in value.values()):
        raise InvalidInput(f"{name}: each value must be a JSON object",
                           errors=[{"field": name, "message": "each value must be a JSON object"}])
    return value


def _findings(validation: Any) -> dict[str, Any]:
    return {"valid": validation.ok, "errors": validation.errors, "warnings": validation.warnings}


class DefinitionQuery(PageArgs):
    key = fields.String(load_default=None, metadata={"description": "substring of the process key"})


@blp.route("")
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
        files = _uploaded_files()
        principal = current_principal()
        result = engine().registry.deploy(files, tenant_id=principal.tenant_id, actor=principal.username,
                                          name=request.form.get("name", ""), ip=client_ip())
        return {"deployment_id": result.deployment_id, "warnings": result.warnings,
                "definitions": [{"key": d.key, "version": d.version, "created": d.created}
                                for d in result.definitions]}


@blp.route("/validate", methods=["POST"])
@requires("process-definition:deploy")
@blp.arguments(UploadSchema, location="files", as_kwargs=True)
@blp.response(200, ValidationSchema)
def validate_files(**_: Any) -> Any:
    """Check a set of BPMN, DMN and form files exactly as deploying them would, and store nothing.

    The same multipart input and size limits as deploy. Findings are the answer, not a failure:
    a model with errors answers 200 with ``valid: false`` and each error's file, line, element id
    and message; 4xx only for a malformed request (no files, a file without a name)."""
    return _findings(designer.check_upload(engine().registry, _uploaded_files()))


@blp.route("/simulate", methods=["POST"])
@requires("process-definition:deploy")
@blp.arguments(SimulateFormSchema, location="form", content_type="multipart/form-data")
@blp.response(200, SimulationSchema)
def simulate(args: dict[str, Any]) -> Any:
    """Run a process in memory and answer the path it takes (``aicmp bpmn simulate``), storing nothing.

    Give either uploaded ``files`` (multipart, as deploy, with its size limits) or a deployed
    ``key`` and ``version`` you can see. User tasks are completed with ``tasks``' data over their
    form defaults, service tasks are answered from ``stubs`` (no operator runs), waiting messages
    and signals are answered with ``messages``' payloads (``{}`` when none) and timers advanced on a
    frozen clock (a user task in ``late`` is answered only after its duration, so the timers due
    meanwhile fire first); scripts run in the same sandbox as instances.
    Files with errors answer 200 with ``valid: false`` and the errors, and nothing runs."""
    files = _uploaded_files(required=False)
    key, version = args["key"], args["version"]
    if files and key is not None:
        raise InvalidInput("give files or a deployed key, not both",
                           errors=[{"field": "key", "message": "not with files"}])
    if not files and (key is None or version is None):
        field = "files" if key is None else "version"
        raise InvalidInput("give files, or a deployed key and version",
                           errors=[{"field": field, "message": "files, or key and version, are required"}])
    data = _json_object(args, "data")
    task_data = _json_object(args, "tasks", values="object")
    stubs = _json_object(args, "stubs")
    messages = _json_object(args, "messages", values="object")
    late = check_late(_json_object(args, "late"))
    filename = None
    if not files:
        with engine().db.read() as s:
            definition = visible_definition(s, key, version, current_principal().tenant_id)
            files = designer.deployed_files(s, definition)
            filename = definition.filename
        args["process"] = args["process"] or key
    validation = designer.check_upload(engine().registry, files)
    answer: dict[str, Any] = {**_findings(validation), "process": None, "completed": False, "path": [],
                              "labels": [], "stopped_at": [], "problem": None, "stubbed": []}
    if not validation.ok:
        return answer
    problems, result = designer.simulate_validated(
        validation, filename, process_id=args["process"], data=data, task_data=task_data, stubs=stubs,
        messages=messages, late=late, max_steps=args["max_steps"])
    if result is None:
        return {**answer, "valid": False, "errors": problems}
    return {**answer, "process": result.process_id, "completed": result.completed, "path": result.element_ids,
            "labels": result.path, "stopped_at": result.stopped_at, "problem": result.problem,
            "stubbed": result.stubbed}


@blp.route("/<string:key>/versions")
@requires("process-definition:read")
@blp.response(200, DefinitionSchema(many=True))
def versions(key: str) -> Any:
    """Every version of a key you can see, newest first."""
    with engine().db.read() as s:
        return processes.list_versions(s, current_principal(), key)


@blp.route("/<string:key>/versions/<int:version>/xml")
@requires("process-definition:read")
@blp.response(200, content_type="application/xml", description="the uploaded bytes, unchanged")
def definition_xml(key: str, version: int) -> Any:
    """Export the BPMN XML exactly as it was uploaded."""
    with engine().db.read() as s:
        definition = visible_definition(s, key, version, current_principal().tenant_id)
        data = export_xml(s, definition)
    return Response(data, mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{definition.filename}"'})
