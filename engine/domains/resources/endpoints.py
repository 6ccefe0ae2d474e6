"""Where a tenant's cloud account may point: not at the platform's own network (SSRF).

A tenant registers an account with an endpoint URL, and the platform then calls it (probe, sync,
create). Without a rule a hostile tenant would make the platform call its metadata service
(169.254.169.254), its database or anything else only the platform can reach. So a tenant-owned
account's endpoint must resolve only to public addresses: loopback, private, link-local, shared,
multicast, reserved and unspecified addresses are refused, unless an operator lists the network in
``AICMP_TENANT_ENDPOINT_NETWORKS`` (a tenant's private cloud reached over a VPN). The check runs
when the endpoint is set and again before every connection, so a name that later resolves
somewhere else is refused then. Platform accounts are the operators' own and are not limited.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from connectors.simulator import SCHEME as SIMULATOR_SCHEME
from engine.config import Network
from engine.errors import InvalidInput


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(f"endpoint: host {host!r} does not resolve", errors=[
            {"field": "endpoint", "message": f"host {host!r} does not resolve"}]) from exc
    found = []
    for *_rest, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        found.append(address)
    return found


def check_tenant_endpoint(endpoint: str | None, allowed: tuple[Network, ...]) -> None:
    """InvalidInput (naming ``endpoint``) unless every address ``endpoint``'s host resolves to is
    public or inside ``allowed``. A URL (http, https) or a bare ``host[:port]``; the simulator's
    ``sim://<cloud>`` names no host and passes."""
    if not endpoint or endpoint.startswith(SIMULATOR_SCHEME):
        return
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    if parts.scheme not in ("", "http", "https") or not parts.hostname:
        raise InvalidInput("endpoint: an http(s) URL or host[:port] is expected", errors=[
            {"field": "endpoint", "message": "an http(s) URL or host[:port] is expected"}])
    for address in _addresses(parts.hostname):
        if any(address in net for net in allowed):
            continue
        if not address.is_global or address.is_multicast:
            raise InvalidInput(f"endpoint: {parts.hostname} is {address}, an address inside the platform's "
                               "network; a tenant's account must point at a public endpoint", errors=[
                                   {"field": "endpoint", "message": f"resolves to non-public address {address}"}])
