"""Incidents over HTTP: instances stuck on a failing task, listed and retried."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.pagination import PageArgs, page_schema, query_page
from api.schemas import InstanceSchema
from api.security import client_ip, current_principal, engine, requires
from engine import processes
from engine.models import Incident

blp = Blueprint("incidents", __name__, url_prefix="/api/v1/incidents",
                description="Incidents: failing tasks to look at and retry")


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


class IncidentQuery(PageArgs):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved"]))
    instance_id = fields.String(load_default=None)


@blp.route("")
@requires("incident:read")
@blp.arguments(IncidentQuery, location="query")
@blp.response(200, page_schema(IncidentSchema, "IncidentPage"))
def list_incidents(args: dict[str, Any]) -> Any:
    """Instances stuck on a failing task, for an operator to look at and retry."""
    q = processes.incidents_query(current_principal(), status=args["status"], instance_id=args["instance_id"])
    with engine().db.read() as s:
        return query_page(s, q, Incident.created_at.desc(), args)


@blp.route("/<string:incident_id>/retry", methods=["POST"])
@requires("incident:retry")
@blp.response(200, InstanceSchema)
def retry_incident(incident_id: str) -> Any:
    """Run the failed task again; a new incident is raised if it fails again."""
    principal = current_principal()
    return engine().runtime.retry_incident(incident_id, actor=principal.username, tenant_id=principal.tenant_id,
                                           ip=client_ip())
