"""Users: one organisation each; created with a password, enabled/disabled, password reset, roles."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.blueprints.roles import RoleSchema
from api.idempotency import idempotent
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from engine.tenancy import roles, users

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Users and their roles")


class UserSchema(Schema):
    id = fields.String(dump_only=True)
    tenant_id = fields.String(load_default=None, allow_none=True,
                              metadata={"description": "platform staff: the tenant (else yours)"})
    organization_id = fields.String(load_default=None, allow_none=True,
                                    metadata={"description": "required for tenant users"})
    platform = fields.Boolean(load_default=False, load_only=True,
                              metadata={"description": "platform staff only: create a platform staff member"})
    username = fields.String(required=True, validate=validate.Length(min=2, max=100))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))
    display_name = fields.String(load_default="", validate=validate.Length(max=200))
    email = fields.Email(load_default=None, allow_none=True)
    roles = fields.List(fields.String(), load_default=list, metadata={"description": "role codes"})
    enabled = fields.Boolean(dump_only=True)
    active_role = fields.String(dump_only=True, allow_none=True)
    locked_until = fields.DateTime(dump_only=True, allow_none=True)
    password_changed_at = fields.DateTime(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class UserPatchSchema(Schema):
    display_name = fields.String(validate=validate.Length(max=200))
    email = fields.Email(allow_none=True)
    organization_id = fields.String()
    enabled = fields.Boolean(metadata={"description": "false also ends every session of the user"})


class UserQuery(PageArgs):
    tenant_id = fields.String(load_default=None)
    organization_id = fields.String(load_default=None)
    enabled = fields.Boolean(load_default=None)
    role = fields.String(load_default=None, metadata={"description": "holders of this role code"})
    q = fields.String(load_default=None, metadata={"description": "substring of username, name or email"})


class PasswordResetSchema(Schema):
    new_password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))


class AssignSchema(Schema):
    role_id = fields.String(required=True)


def _out(user: Any, codes: list[str]) -> dict[str, Any]:
    return {**{name: getattr(user, name) for name in UserSchema().dump_fields if name != "roles"}, "roles": codes}


@blp.route("")
class Users(MethodView):
    @requires("user:read")
    @blp.arguments(UserQuery, location="query")
    @blp.response(200, page_schema(UserSchema, "UserPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """List the users you reach (your data scope)."""
        rows, total, codes = users.list_users(
            engine(), current_principal(), tenant_id=args["tenant_id"], organization_id=args["organization_id"],
            enabled=args["enabled"], role=args["role"], q=args["q"], offset=offset(args), limit=args["page_size"])
        return page([_out(u, codes.get(u.id, [])) for u in rows], total, args)

    @requires("user:create")
    @idempotent
    @blp.arguments(UserSchema)
    @blp.response(201, UserSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a user with a password (checked against the password policy) and roles."""
        return _out(*users.create_user(engine(), current_principal(), **body, ip=client_ip()))


@blp.route("/<string:user_id>")
class UserItem(MethodView):
    @requires("user:read")
    @blp.response(200, UserSchema)
    def get(self, user_id: str) -> Any:
        """One user."""
        return _out(*users.get_user(engine(), current_principal(), user_id))

    @requires("user:update")
    @blp.arguments(UserPatchSchema)
    @blp.response(200, UserSchema)
    def patch(self, body: dict[str, Any], user_id: str) -> Any:
        """Edit a user, move it to another organisation, enable or disable it."""
        return _out(*users.update_user(engine(), current_principal(), user_id, **body, ip=client_ip()))


@blp.route("/<string:user_id>/reset-password", methods=["POST"])
@requires("user:reset-password")
@blp.arguments(PasswordResetSchema)
@blp.response(204)
def reset_password(body: dict[str, Any], user_id: str) -> None:
    """Set a new password for a user (its sessions end; a lockout is lifted)."""
    users.reset_password(engine(), current_principal(), user_id, body["new_password"], ip=client_ip())


@blp.route("/<string:user_id>/roles")
class UserRoles(MethodView):
    @requires("user:read")
    @blp.response(200, RoleSchema(many=True))
    def get(self, user_id: str) -> Any:
        """The user's roles."""
        return roles.roles_of(engine(), current_principal(), user_id)

    @requires("role:assign")
    @idempotent
    @blp.arguments(AssignSchema)
    @blp.response(201, RoleSchema)
    def post(self, body: dict[str, Any], user_id: str) -> Any:
        """Assign a role (you cannot hand out permissions you do not hold)."""
        return roles.assign(engine(), current_principal(), user_id, body["role_id"], ip=client_ip())


@blp.route("/<string:user_id>/roles/<string:role_id>", methods=["DELETE"])
@requires("role:assign")
@blp.response(204)
def unassign(user_id: str, role_id: str) -> None:
    """Take a role away."""
    roles.unassign(engine(), current_principal(), user_id, role_id, ip=client_ip())
