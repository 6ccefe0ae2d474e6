"""Authentication: log in, refresh, log out, who am I, switch role, change password.

These routes need no permission: logging in and changing a password need none at all (they
prove the password instead), the rest only a valid token of any user. Tokens carry the user id
as subject plus ``tid``, ``ep``, ``role`` and ``sid`` (see ``engine.identity.tokens``). A refresh
rotates the refresh token; logout ends the whole session (``engine.identity.login``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token, get_jwt, verify_jwt_in_request
from jwt import ExpiredSignatureError, InvalidTokenError
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.errors import error_body
from api.security import client_ip, current_principal, engine
from engine import identity
from engine.errors import InvalidInput
from engine.identity import Grant, PasswordExpired

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log in and manage the session")
NO_TOKEN: list[dict[str, list[str]]] = []  # OpenAPI: these routes take no bearer token


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=100))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024), load_only=True)
    tenant = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
                           metadata={"description": "tenant code; when given the user must belong to it"})


class PasswordChangeSchema(LoginSchema):
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=1024), load_only=True)


class TokensSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()


class LogoutSchema(Schema):
    refresh_token = fields.String(load_default=None, allow_none=True,
                                  metadata={"description": "also end this refresh token's session (of the same "
                                                           "user), when it is not the access token's"})


class LoggedOutSchema(Schema):
    revoked = fields.Integer(metadata={"description": "sessions newly ended"})


class SwitchRoleSchema(Schema):
    role = fields.String(required=True, allow_none=True, validate=validate.Length(min=1, max=64),
                         metadata={"description": "a role code the user holds; null acts with all of them"})


class _UserSchema(Schema):
    id = fields.String()
    username = fields.String()
    display_name = fields.String()
    email = fields.String(allow_none=True)
    password_changed_at = fields.DateTime()


class _TenantSchema(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()


class _OrganizationSchema(_TenantSchema):
    path = fields.String()


class MeSchema(Schema):
    user = fields.Nested(_UserSchema)
    tenant = fields.Nested(_TenantSchema, allow_none=True)
    organization = fields.Nested(_OrganizationSchema, allow_none=True)
    roles = fields.List(fields.String())
    active_role = fields.String(allow_none=True)
    permissions = fields.List(fields.String(), metadata={"description": "granted by the acting roles"})
    data_scopes = fields.Dict(keys=fields.String(), values=fields.String())


def _tokens(grant: Grant) -> dict[str, str]:
    claims = grant.claims()
    return {"access_token": create_access_token(identity=grant.user_id, additional_claims=claims),
            "refresh_token": create_refresh_token(identity=grant.user_id, additional_claims=claims)}


@blp.post("/login")
@blp.doc(security=NO_TOKEN)
@blp.arguments(LoginSchema)
@blp.response(200, TokensSchema)
@blp.alt_response(401, description="wrong credentials, locked or disabled account")
@blp.alt_response(403, description="password_expired: change it first")
@blp.alt_response(429, description="too many failed logins from this address (see Retry-After)")
def login(data: dict[str, Any]) -> dict[str, str]:
    """Log in.

    Any failure is 401 with one message; an expired password is 403 ``password_expired`` (change it
    at ``POST /auth/password``). An address with too many recent failures, overall or for this
    username, gets 429 with Retry-After before the password is checked."""
    try:
        grant = identity.authenticate(engine(), data["username"], data["password"], tenant=data["tenant"],
                                      ip=client_ip())
    except PasswordExpired as exc:
        raise PasswordExpired(f"{exc.message}: change it with POST /api/v1/auth/password") from None
    return _tokens(grant)


@blp.post("/password")
@blp.doc(security=NO_TOKEN)
@blp.arguments(PasswordChangeSchema)
@blp.response(200, TokensSchema)
@blp.alt_response(401, description="wrong credentials, locked or disabled account")
@blp.alt_response(429, description="too many failed logins from this address (see Retry-After)")
def change_password(data: dict[str, Any]) -> dict[str, str]:
    """Change the password with the current one (also when it has expired).

    Every other session of the user ends; the answer holds fresh tokens."""
    grant = identity.change_password(engine(), data["username"], data["password"], data["new_password"],
                                     tenant=data["tenant"], ip=client_ip())
    return _tokens(grant)


@blp.post("/refresh")
@blp.doc(description="Send the refresh token as the bearer token.")
@blp.response(200, TokensSchema)
def refresh() -> dict[str, str]:
    """New tokens for a refresh token.

    The refresh token must still be valid: not revoked, of a live session, its user enabled. It is
    used up: the answer holds a new refresh token as well. Presenting a used refresh token again
    ends its whole session (both tokens from every refresh since the login)."""
    verify_jwt_in_request(refresh=True)
    return _tokens(identity.refresh(engine(), get_jwt(), ip=client_ip()))


@blp.post("/logout")
@blp.arguments(LogoutSchema)
@blp.response(200, LoggedOutSchema)
def logout(data: dict[str, Any]) -> dict[str, int]:
    """Log out.

    Ends the access token's session: the access and refresh tokens of that login stop working.
    A refresh token in the body (of the same user) ends its session too."""
    principal = current_principal()
    sessions = [get_jwt()[identity.CLAIM_SESSION]]
    if data.get("refresh_token"):
        try:
            claims = decode_token(data["refresh_token"])
        except ExpiredSignatureError:
            claims = None  # already useless
        except InvalidTokenError:
            raise _bad_refresh("is not a valid token") from None
        if claims is not None:
            if claims.get("type") != "refresh" or claims.get("sub") != principal.user_id:
                raise _bad_refresh("is not a refresh token of this user")
            sessions.append(claims.get(identity.CLAIM_SESSION, ""))  # none: from before sessions, unusable
    return {"revoked": identity.logout(engine(), principal, sessions, ip=client_ip())}


def _bad_refresh(message: str) -> InvalidInput:
    return InvalidInput(f"refresh_token: {message}", errors=[{"field": "refresh_token", "message": message}])


@blp.get("/me")
@blp.response(200, MeSchema)
def me() -> dict[str, Any]:
    """Who am I.

    The caller's user, tenant, organisation, roles, active role and the permissions it acts with."""
    return identity.describe(engine(), current_principal())


@blp.post("/switch-role")
@blp.arguments(SwitchRoleSchema)
@blp.response(200, TokensSchema)
@blp.alt_response(403, description="the role is not one of yours")
def switch_role(data: dict[str, Any]) -> dict[str, str]:
    """Act as another of your roles.

    No new login: the answer holds tokens that carry the role (403 if you do not hold it)."""
    principal = current_principal()
    claims = get_jwt()
    grant = identity.switch_role(engine(), principal, data["role"], epoch=claims[identity.CLAIM_EPOCH],
                                 session_id=claims[identity.CLAIM_SESSION], ip=client_ip())
    return _tokens(grant)


def _jwt_error(status: int, message: str, code: str | None = None) -> Any:
    return jsonify(error_body(status, message, code=code)), status


def install(app: Flask) -> None:
    """Make flask-jwt-extended's failures use the one error shape (after the app's ``JWTManager`` is made)."""
    jwt = app.extensions["flask-jwt-extended"]
    jwt.unauthorized_loader(lambda reason: _jwt_error(401, reason))
    jwt.invalid_token_loader(lambda reason: _jwt_error(401, f"invalid token: {reason}"))
    jwt.expired_token_loader(lambda _header, _payload: _jwt_error(401, "the token has expired", "token_expired"))
    jwt.revoked_token_loader(lambda _header, _payload: _jwt_error(401, "the token was revoked"))
    jwt.needs_fresh_token_loader(lambda _header, _payload: _jwt_error(401, "a fresh login is required"))
