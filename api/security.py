"""Authentication and authorization for every route.

``@requires("process-instance:start")`` verifies the access token (flask-jwt-extended), loads
the caller as an ``engine.principal.Principal`` and asks the engine's authorizer (Casbin RBAC
with domains) whether the caller's acting roles grant the permission in the caller's tenant.
The permission is written into the route's OpenAPI description.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from engine.config import Network
from engine.core import Engine
from engine.errors import Forbidden, Unauthorized
from engine.principal import Principal


def engine() -> Engine:
    return current_app.extensions["aicmp.engine"]


def client_ip() -> str | None:
    """The client's address: the peer's, unless the peer is a trusted proxy (AICMP_TRUSTED_PROXIES).

    Each proxy appends the address it got the request from to X-Forwarded-For, so only entries
    appended by trusted proxies can be believed: walk the header from the right while the address
    in hand is a trusted proxy, and stop at the first untrusted one (the right-most untrusted
    address: what the client wrote further left is not believed). No trusted proxies (the
    default): the header is ignored. X-Real-IP is never read. Used for the audit log and the login
    limits (``engine.identity.throttle``).
    """
    peer = request.remote_addr or None
    trusted = engine().settings.trusted_proxies
    if peer is None or not trusted:
        return peer
    hops = [hop.strip() for line in request.headers.getlist("X-Forwarded-For") for hop in line.split(",")]
    address = peer
    while hops and _within(address, trusted):
        hop = _parse(hops.pop())
        if hop is None:
            break  # not an address: keep the last one a trusted proxy vouched for
        address = str(hop)
    return address


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address (an IPv4-mapped IPv6 one as IPv4), or None when it is not one."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
        return parsed.ipv4_mapped
    return parsed


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    parsed = _parse(address)
    return parsed is not None and any(parsed in net for net in networks)


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
