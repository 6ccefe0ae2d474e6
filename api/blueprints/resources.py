"""Resources at the providers over HTTP: list with filters, orphans, one resource, assignment to a
tenant and a business system. Staff see every resource; a tenant's users those of their tenant."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from connectors.base import Status
from engine.domains.resources import service

blp = Blueprint("resources", __name__, url_prefix="/api/v1/resources",
                description="Resources at the providers: inventory, orphans, assignment")


class ResourceSchema(Schema):
    id = fields.String()
    account_id = fields.String()
    pool_id = fields.String(allow_none=True)
    tenant_id = fields.String(allow_none=True)
    business_system_id = fields.String(allow_none=True)
    provider_id = fields.String(metadata={"description": "the provider's id (instance id, server id, VM moref)"})
    name = fields.String()
    status = fields.String()
    client_token = fields.String(allow_none=True)
    scope = fields.String(allow_none=True)
    flavor = fields.String(allow_none=True)
    vcpu = fields.Integer()
    memory_gib = fields.Decimal(as_string=True)
    disk_gib = fields.Decimal(as_string=True)
    gpu_count = fields.Integer()
    gpus_by_model = fields.Dict(keys=fields.String(), values=fields.Integer())
    addresses = fields.List(fields.String())
    origin = fields.String(metadata={"description": "created (by a process) or imported (found by a sync)"})
    orphan = fields.Boolean(metadata={"description": "in no pool, or of no tenant"})
    seen_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ResourceQuery(PageArgs):
    account_id = fields.String(load_default=None)
    pool_id = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf([str(s) for s in Status]))
    tenant_id = fields.String(load_default=None, metadata={"description": "staff: one tenant's resources"})
    business_system_id = fields.String(load_default=None)
    q = fields.String(load_default=None, metadata={"description": "substring of the name"})
    include_deleted = fields.Boolean(load_default=False)


class ResourceAssignmentSchema(Schema):
    tenant_id = fields.String(allow_none=True, metadata={"description": "staff only; null takes it back"})
    business_system_id = fields.String(allow_none=True,
                                       metadata={"description": "a business system of the resource's tenant"})


def _list(args: dict[str, Any], *, orphans: bool) -> dict[str, Any]:
    rows, total = service.list_resources(
        engine(), current_principal(), account_id=args["account_id"], pool_id=args["pool_id"], status=args["status"],
        tenant_id=args["tenant_id"], business_system_id=args["business_system_id"], q=args["q"], orphans=orphans,
        include_deleted=args["include_deleted"], offset=offset(args), limit=args["page_size"])
    return page(rows, total, args)


@blp.route("")
@requires("resource:read")
@blp.arguments(ResourceQuery, location="query")
@blp.response(200, page_schema(ResourceSchema, "ResourcePage"))
def list_resources(args: dict[str, Any]) -> Any:
    """List resources (deleted ones only with include_deleted or status=deleted)."""
    return _list(args, orphans=False)


@blp.route("/orphans")
@requires("resource:read")
@blp.arguments(ResourceQuery, location="query")
@blp.response(200, page_schema(ResourceSchema, "OrphanResourcePage"))
def list_orphans(args: dict[str, Any]) -> Any:
    """Resources in no pool or assigned to no tenant."""
    return _list(args, orphans=True)


@blp.route("/<string:resource_id>")
class ResourceItem(MethodView):
    @requires("resource:read")
    @blp.response(200, ResourceSchema)
    def get(self, resource_id: str) -> Any:
        """One resource."""
        return service.get_resource(engine(), current_principal(), resource_id)


@blp.route("/<string:resource_id>/assignment", methods=["PUT"])
@requires("resource:manage")
@blp.arguments(ResourceAssignmentSchema)
@blp.response(200, ResourceSchema)
def assign(body: dict[str, Any], resource_id: str) -> Any:
    """Assign to a tenant (staff) and/or a business system of its tenant; fields left out stay."""
    return service.assign(engine(), current_principal(), resource_id, ip=client_ip(), **body)
