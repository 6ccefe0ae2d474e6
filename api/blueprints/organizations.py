"""Organisations: one tree per tenant. Create under a parent, rename, move, delete when empty."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.idempotency import idempotent
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from engine.tenancy import organizations

blp = Blueprint("organizations", __name__, url_prefix="/api/v1/organizations", description="Organisation trees")


class OrganizationSchema(Schema):
    id = fields.String(dump_only=True)
    tenant_id = fields.String(load_default=None, metadata={"description": "platform staff: the tenant (else yours)"})
    parent_id = fields.String(load_default=None, allow_none=True, metadata={"description": "null: top level"})
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    path = fields.String(dump_only=True, metadata={"description": "/<top id>/.../<own id>/"})
    created_at = fields.DateTime(dump_only=True)


class OrganizationPatchSchema(Schema):
    code = fields.String(validate=validate.Length(min=1, max=64))
    name = fields.String(validate=validate.Length(min=1, max=200))
    parent_id = fields.String(allow_none=True, metadata={
        "description": "move under this organisation (null: to the top level); only a subtree that holds no quota"})


class OrganizationQuery(PageArgs):
    tenant_id = fields.String(load_default=None)
    parent_id = fields.String(load_default=None, metadata={"description": "direct children of this organisation"})
    top_level = fields.Boolean(load_default=None)
    under = fields.String(load_default=None, metadata={"description": "this organisation and its whole subtree"})
    q = fields.String(load_default=None, metadata={"description": "substring of code or name"})


@blp.route("")
class Organizations(MethodView):
    @requires("organization:read")
    @blp.arguments(OrganizationQuery, location="query")
    @blp.response(200, page_schema(OrganizationSchema, "OrganizationPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """List the organisations you reach (your data scope), in tree order."""
        rows, total = organizations.list_organizations(
            engine(), current_principal(), tenant_id=args["tenant_id"], parent_id=args["parent_id"],
            top_level=args["top_level"], under=args["under"], q=args["q"], offset=offset(args),
            limit=args["page_size"])
        return page(rows, total, args)

    @requires("organization:create")
    @idempotent
    @blp.arguments(OrganizationSchema)
    @blp.response(201, OrganizationSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create an organisation under a parent, or at the top level."""
        return organizations.create_organization(engine(), current_principal(), **body, ip=client_ip())


@blp.route("/<string:org_id>")
class OrganizationItem(MethodView):
    @requires("organization:read")
    @blp.response(200, OrganizationSchema)
    def get(self, org_id: str) -> Any:
        """One organisation."""
        return organizations.get_organization(engine(), current_principal(), org_id)

    @requires("organization:update")
    @blp.arguments(OrganizationPatchSchema)
    @blp.response(200, OrganizationSchema)
    def patch(self, body: dict[str, Any], org_id: str) -> Any:
        """Rename, recode or move an organisation."""
        return organizations.update_organization(engine(), current_principal(), org_id, name=body.get("name"),
                                                 code=body.get("code"),
                                                 parent_id=body.get("parent_id", organizations.KEEP), ip=client_ip())

    @requires("organization:delete")
    @blp.response(204)
    def delete(self, org_id: str) -> None:
        """Delete an empty organisation (no sub-organisations, users, business systems or quota in use)."""
        organizations.delete_organization(engine(), current_principal(), org_id, ip=client_ip())
