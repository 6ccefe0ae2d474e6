"""Tenants: platform staff create, edit, enable/disable and delete them; a tenant user reads its own."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.idempotency import idempotent
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from engine.tenancy import tenants

blp = Blueprint("tenants", __name__, url_prefix="/api/v1/tenants", description="Tenants")


class TenantSchema(Schema):
    id = fields.String(dump_only=True)
    code = fields.String(required=True, validate=validate.Length(min=2, max=64),
                         metadata={"description": "lower-case letters, digits, '_' and '-'"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=1000))
    enabled = fields.Boolean(load_default=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class TenantPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=1000))
    enabled = fields.Boolean(metadata={"description": "false: the tenant's users can no longer sign in or use tokens"})


class TenantQuery(PageArgs):
    enabled = fields.Boolean(load_default=None)
    q = fields.String(load_default=None, metadata={"description": "substring of code or name"})


@blp.route("")
class Tenants(MethodView):
    @requires("tenant:read")
    @blp.arguments(TenantQuery, location="query")
    @blp.response(200, page_schema(TenantSchema, "TenantPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """List tenants (a tenant user sees its own)."""
        rows, total = tenants.list_tenants(engine(), current_principal(), enabled=args["enabled"], q=args["q"],
                                           offset=offset(args), limit=args["page_size"])
        return page(rows, total, args)

    @requires("tenant:create")
    @idempotent
    @blp.arguments(TenantSchema)
    @blp.response(201, TenantSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a tenant (platform staff)."""
        return tenants.create_tenant(engine(), current_principal(), **body, ip=client_ip())


@blp.route("/<string:tenant_id>")
class TenantItem(MethodView):
    @requires("tenant:read")
    @blp.response(200, TenantSchema)
    def get(self, tenant_id: str) -> Any:
        """One tenant."""
        return tenants.get_tenant(engine(), current_principal(), tenant_id)

    @requires("tenant:update")
    @blp.arguments(TenantPatchSchema)
    @blp.response(200, TenantSchema)
    def patch(self, body: dict[str, Any], tenant_id: str) -> Any:
        """Edit a tenant, or enable/disable it (platform staff)."""
        return tenants.update_tenant(engine(), current_principal(), tenant_id, **body, ip=client_ip())

    @requires("tenant:delete")
    @blp.response(204)
    def delete(self, tenant_id: str) -> None:
        """Delete an empty tenant: 409 while it has users or process instances (or anything else of its own)."""
        tenants.delete_tenant(engine(), current_principal(), tenant_id, ip=client_ip())
