"""Process definitions over HTTP: deploy, list, versions, and the exact XML."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from marshmallow import Schema, fields

from api.blueprints import Blueprint
from api.pagination import PageArgs, offset, page, page_schema
from api.schemas import FindingSchema
from api.security import client_ip, current_principal, engine, requires
from engine import processes
from engine.errors import InvalidInput
from engine.registry import export_xml, visible_definition

blp = Blueprint("process_definitions", __name__, url_prefix="/api/v1/process-definitions",
                description="BPMN process definitions: deploy, list, versions, XML")


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
