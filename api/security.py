"""Authentication and authorization for every route.

``@requires("process-instance:start")`` verifies the access token (flask-jwt-extended), loads
the caller as an ``engine.principal.Principal`` and asks the engine's authorizer (Casbin RBAC
with domains) whether the caller's acting roles grant the permission in the caller's tenant.
The permission is written into the route's OpenAPI description.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from engine.core import Engine
from engine.errors import Forbidden, Unauthorized
from engine.principal import Principal


def engine() -> Engine:
    return current_app.extensions["aicmp.engine"]


def client_ip() -> str | None:
    return request.headers.get("X-Forwarded-For", request.remote_addr or "").split(",")[0].strip() or None


def current_principal() -> Principal:
    """The caller, loaded once per request (token checked for revocation and session epoch)."""
    found = g.get("aicmp_principal")
    if found is None:
        from engine.identity import principal_for_token

        verify_jwt_in_request()
        found = principal_for_token(engine(), get_jwt())
        if found is None:
            raise Unauthorized("the token was revoked, has expired or its user is disabled")
        g.aicmp_principal = found
    return found


def requires(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if not engine().authorizer.allowed(principal, permission):
                raise Forbidden(f"permission {permission!r} is required")
            return view(*args, **kwargs)

        doc = (view.__doc__ or "").strip()
        guarded.__doc__ = f"{doc}\n\nRequires permission `{permission}`." if doc else f"Requires `{permission}`."
        guarded.aicmp_permission = permission  # type: ignore[attr-defined]
        return guarded

    return wrap
