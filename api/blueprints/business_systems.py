"""Business systems: one organisation each; members from any organisation of the same tenant."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.idempotency import idempotent
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from engine.tenancy import business_systems

blp = Blueprint("business_systems", __name__, url_prefix="/api/v1/business-systems", description="Business systems")


class BusinessSystemSchema(Schema):
    id = fields.String(dump_only=True)
    tenant_id = fields.String(load_default=None, metadata={"description": "platform staff: the tenant (else yours)"})
    organization_id = fields.String(required=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    created_at = fields.DateTime(dump_only=True)


class BusinessSystemPatchSchema(Schema):
    code = fields.String(validate=validate.Length(min=1, max=64))
    name = fields.String(validate=validate.Length(min=1, max=200))
    organization_id = fields.String()


class BusinessSystemQuery(PageArgs):
    tenant_id = fields.String(load_default=None)
    organization_id = fields.String(load_default=None)
    member = fields.String(load_default=None, metadata={"description": "only systems this user id belongs to"})
    q = fields.String(load_default=None, metadata={"description": "substring of code or name"})


class MemberSchema(Schema):
    id = fields.String(dump_only=True)
    username = fields.String(dump_only=True)
    display_name = fields.String(dump_only=True)
    organization_id = fields.String(dump_only=True, allow_none=True)


class MemberInSchema(Schema):
    user_id = fields.String(required=True)


@blp.route("")
class BusinessSystems(MethodView):
    @requires("business-system:read")
    @blp.arguments(BusinessSystemQuery, location="query")
    @blp.response(200, page_schema(BusinessSystemSchema, "BusinessSystemPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """List the business systems you reach (your data scope)."""
        rows, total = business_systems.list_business_systems(
            engine(), current_principal(), tenant_id=args["tenant_id"], organization_id=args["organization_id"],
            member=args["member"], q=args["q"], offset=offset(args), limit=args["page_size"])
        return page(rows, total, args)

    @requires("business-system:create")
    @idempotent
    @blp.arguments(BusinessSystemSchema)
    @blp.response(201, BusinessSystemSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a business system in an organisation."""
        return business_systems.create_business_system(engine(), current_principal(), **body, ip=client_ip())


@blp.route("/<string:system_id>")
class BusinessSystemItem(MethodView):
    @requires("business-system:read")
    @blp.response(200, BusinessSystemSchema)
    def get(self, system_id: str) -> Any:
        """One business system."""
        return business_systems.get_business_system(engine(), current_principal(), system_id)

    @requires("business-system:update")
    @blp.arguments(BusinessSystemPatchSchema)
    @blp.response(200, BusinessSystemSchema)
    def patch(self, body: dict[str, Any], system_id: str) -> Any:
        """Rename, recode or move a business system to another organisation."""
        return business_systems.update_business_system(engine(), current_principal(), system_id, **body,
                                                       ip=client_ip())

    @requires("business-system:delete")
    @blp.response(204)
    def delete(self, system_id: str) -> None:
        """Delete a business system (its memberships go with it)."""
        business_systems.delete_business_system(engine(), current_principal(), system_id, ip=client_ip())


@blp.route("/<string:system_id>/members")
class Members(MethodView):
    @requires("business-system:read")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(MemberSchema, "MemberPage"))
    def get(self, args: dict[str, Any], system_id: str) -> Any:
        """The system's members."""
        rows, total = business_systems.members(engine(), current_principal(), system_id, offset=offset(args),
                                               limit=args["page_size"])
        return page(rows, total, args)

    @requires("business-system:update")
    @idempotent
    @blp.arguments(MemberInSchema)
    @blp.response(201, MemberSchema)
    def post(self, body: dict[str, Any], system_id: str) -> Any:
        """Add a member (a user of the same tenant, from any organisation)."""
        return business_systems.add_member(engine(), current_principal(), system_id, body["user_id"], ip=client_ip())


@blp.route("/<string:system_id>/members/<string:user_id>", methods=["DELETE"])
@requires("business-system:update")
@blp.response(204)
def remove_member(system_id: str, user_id: str) -> None:
    """Remove a member."""
    business_systems.remove_member(engine(), current_principal(), system_id, user_id, ip=client_ip())
