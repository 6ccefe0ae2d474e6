"""Roles: built-in ones are listed but fixed; custom roles are permissions plus a data scope."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.idempotency import idempotent
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from engine.roles import DATA_SCOPES, PERMISSIONS
from engine.tenancy import roles

blp = Blueprint("roles", __name__, url_prefix="/api/v1", description="Roles and permissions")


class RoleSchema(Schema):
    id = fields.String(dump_only=True)
    tenant_id = fields.String(load_default=None, allow_none=True,
                              metadata={"description": "null for built-in roles; platform staff: the tenant"})
    code = fields.String(required=True, validate=validate.Length(min=2, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    builtin = fields.Boolean(dump_only=True)
    permissions = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=len(PERMISSIONS)),
                              metadata={"description": "names from GET /permissions, or 'resource:*'"})
    data_scope = fields.String(required=True, validate=validate.OneOf(DATA_SCOPES))


class RolePatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    permissions = fields.List(fields.String(), validate=validate.Length(min=1, max=len(PERMISSIONS)))
    data_scope = fields.String(validate=validate.OneOf(DATA_SCOPES))


class RoleQuery(PageArgs):
    tenant_id = fields.String(load_default=None)
    builtin = fields.Boolean(load_default=None)
    q = fields.String(load_default=None, metadata={"description": "substring of code or name"})


class CatalogSchema(Schema):
    permissions = fields.List(fields.String())
    data_scopes = fields.List(fields.String())


@blp.route("/roles")
class Roles(MethodView):
    @requires("role:read")
    @blp.arguments(RoleQuery, location="query")
    @blp.response(200, page_schema(RoleSchema, "RolePage"))
    def get(self, args: dict[str, Any]) -> Any:
        """List the built-in roles and your tenant's custom roles."""
        rows, total = roles.list_roles(engine(), current_principal(), tenant_id=args["tenant_id"],
                                       builtin_only=args["builtin"], q=args["q"], offset=offset(args),
                                       limit=args["page_size"])
        return page(rows, total, args)

    @requires("role:create")
    @idempotent
    @blp.arguments(RoleSchema)
    @blp.response(201, RoleSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a custom role (only with permissions you hold yourself)."""
        return roles.create_role(engine(), current_principal(), **body, ip=client_ip())


@blp.route("/roles/<string:role_id>")
class RoleItem(MethodView):
    @requires("role:read")
    @blp.response(200, RoleSchema)
    def get(self, role_id: str) -> Any:
        """One role."""
        return roles.get_role(engine(), current_principal(), role_id)

    @requires("role:update")
    @blp.arguments(RolePatchSchema)
    @blp.response(200, RoleSchema)
    def patch(self, body: dict[str, Any], role_id: str) -> Any:
        """Change a custom role; every worker enforces the change within a second. Built-in roles: 409."""
        return roles.update_role(engine(), current_principal(), role_id, **body, ip=client_ip())

    @requires("role:delete")
    @blp.response(204)
    def delete(self, role_id: str) -> None:
        """Delete a custom role nobody holds. Built-in roles: 409."""
        roles.delete_role(engine(), current_principal(), role_id, ip=client_ip())


@blp.route("/permissions")
@requires("role:read")
@blp.response(200, CatalogSchema)
def catalog() -> Any:
    """Every permission a custom role can be made of, and the data scopes."""
    return {"permissions": list(PERMISSIONS), "data_scopes": list(DATA_SCOPES)}
