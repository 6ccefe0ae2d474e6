"""A small OpenStack stand-in (Keystone v3, Nova v2.1, Placement) for the OpenStack connector tests.

No maintained OpenStack emulator exists (shared/docs/environment.md), so this serves what the
connector uses, shaped field by field after the published API references: Keystone's password
token issue (``POST /v3/auth/tokens``: 201, ``X-Subject-Token``, the token body with its service
catalog), version discovery documents for Keystone and Nova, Nova's microversion negotiation
(``OpenStack-API-Version: compute 2.x`` in, the same and ``X-OpenStack-Nova-API-Version`` out,
406 outside 2.1-2.96, ``Vary``), servers (create, detail list, show, delete, the ``os-start``,
``os-stop``, ``reboot``, ``resize``, ``confirmResize`` actions, metadata), flavors with extra
specs (2.61+), ``os-hypervisors/statistics`` (gone at 2.88, as in Nova), quota sets with usage
(``/detail``), server diagnostics, and Placement resource providers with inventories and usages
(where GPUs live: custom resource classes such as ``CUSTOM_GPU_A100``). Nova's error bodies
(``{"itemNotFound": {"code": 404, "message": ...}}``) and state rules (409 ``conflictingRequest``
for a start of an active server, 403 quota exceeded) are kept.

State changes take ``--delay`` seconds, as a real cloud's do: a new server is ``BUILD`` then
``ACTIVE``, ``os-stop`` passes through task state ``powering-off`` to ``SHUTOFF``, a resize through
``RESIZE`` to ``VERIFY_RESIZE``. Everything is in memory, per process.

Run it: ``python -m tests.connectors.openstack_standin --port 5000`` (prints ``READY <url>``); the
Keystone endpoint is ``<url>/identity/v3``, user ``aicmp`` / ``--password``, project ``aicmp``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import secrets
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

MIN_MICROVERSION = (2, 1)
MAX_MICROVERSION = (2, 96)
HYPERVISOR_STATS_REMOVED = (2, 88)
FLAVOR_EXTRA_SPECS_SINCE = (2, 61)
QUOTA_INJECTED_FILES_REMOVED = (2, 57)
TOKEN_TTL = timedelta(hours=1)

DOMAIN = {"id": "default", "name": "Default"}


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _usg(t: datetime) -> str:
    """OS-SRV-USG times: microseconds and no zone designator, as Nova writes them."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _iso_us(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class HttpError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def nova_error(status: int, message: str) -> HttpError:
    kind = {400: "badRequest", 403: "forbidden", 404: "itemNotFound", 406: "notAcceptable",
            409: "conflictingRequest"}.get(status, "computeFault")
    return HttpError(status, {kind: {"code": status, "message": message}})


def unauthorized() -> HttpError:
    return HttpError(401, {"error": {"code": 401, "title": "Unauthorized",
                                     "message": "The request you have made requires authentication."}})


class Cloud:
    """The whole stand-in's state: one domain, one project, one user, two hypervisors, flavors."""

    def __init__(self, *, password: str, delay: float) -> None:
        self.lock = threading.RLock()
        self.delay = delay
        self.password = password
        self.user = {"id": uuid.uuid4().hex, "name": "aicmp", "domain": DOMAIN, "password_expires_at": None}
        self.project = {"id": uuid.uuid4().hex, "name": "aicmp", "domain": DOMAIN}
        self.tokens: dict[str, datetime] = {}
        self.image_id = "6b4d1c3e-1d2b-4a8c-9b5c-2c0d4c1e7f10"
        self.flavors = {f["id"]: f for f in (
            _flavor("1", "m1.small", 1, 2048, 20),
            _flavor("2", "m1.medium", 2, 4096, 40),
            _flavor("3", "m1.large", 4, 8192, 80),
            _flavor("10", "g1.a100x2", 16, 131072, 200, {"resources:CUSTOM_GPU_A100": "2"}),
        )}
        self.hypervisors = [
            {"id": str(uuid.uuid4()), "name": "compute-0", "vcpus": 64, "memory_mb": 262144, "local_gb": 2000,
             "gpus": {}},
            {"id": str(uuid.uuid4()), "name": "gpu-0", "vcpus": 96, "memory_mb": 1048576, "local_gb": 4000,
             "gpus": {"CUSTOM_GPU_A100": 8}},
        ]
        self.quota = {"instances": 10, "cores": 40, "ram": 512000, "key_pairs": 100, "metadata_items": 128,
                      "server_groups": 10, "server_group_members": 10, "injected_files": 5,
                      "injected_file_content_bytes": 10240, "injected_file_path_bytes": 255}
        self.servers: dict[str, dict[str, Any]] = {}

    # -- state over time --------------------------------------------------------------------

    def settle(self) -> None:
        """Apply every state change whose delay has passed."""
        now = time.monotonic()
        for sid in list(self.servers):
            s = self.servers[sid]
            due = s.get("_due")
            if due is None or due > now:
                continue
            s["_due"] = None
            after = s.pop("_after")
            if after == "gone":
                del self.servers[sid]
                continue
            s.update(after)
            s["updated"] = _iso(_now())

    def later(self, server: dict[str, Any], now_fields: dict[str, Any], after: dict[str, Any] | str) -> None:
        server.update(now_fields)
        server["updated"] = _iso(_now())
        server["_after"] = after
        server["_due"] = time.monotonic() + self.delay

    # -- usage ------------------------------------------------------------------------------

    def used(self) -> dict[str, int]:
        live = list(self.servers.values())
        return {"instances": len(live), "cores": sum(s["_flavor"]["vcpus"] for s in live),
                "ram": sum(s["_flavor"]["ram"] for s in live)}

    def host_of(self, flavor: dict[str, Any]) -> dict[str, Any]:
        """Where a flavor lands: the GPU host for GPU flavors, else the general one."""
        return self.hypervisors[1] if _gpu_requests(flavor) else self.hypervisors[0]


def _flavor(fid: str, name: str, vcpus: int, ram: int, disk: int,
            extra: dict[str, str] | None = None) -> dict[str, Any]:
    return {"id": fid, "name": name, "vcpus": vcpus, "ram": ram, "disk": disk, "OS-FLV-EXT-DATA:ephemeral": 0,
            "swap": 0, "rxtx_factor": 1.0, "os-flavor-access:is_public": True, "OS-FLV-DISABLED:disabled": False,
            "description": None, "extra_specs": dict(extra or {})}


def _gpu_requests(flavor: dict[str, Any]) -> dict[str, int]:
    out = {}
    for key, value in flavor["extra_specs"].items():
        if key.startswith("resources:CUSTOM_GPU_"):
            out[key.split(":", 1)[1]] = int(value)
    return out


# ------------------------------------------------------------------------------------------
# WSGI plumbing


class App:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.base = ""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.base = f"http://{environ['HTTP_HOST']}" if environ.get("HTTP_HOST") else ""
        headers: list[tuple[str, str]] = []
        try:
            status, body, extra = self.dispatch(environ)
            headers.extend(extra)
        except HttpError as exc:
            status, body = exc.status, exc.body
            if environ.get("PATH_INFO", "").startswith("/compute"):
                headers.extend(self._mv_headers(environ, fallback=True))
        except Exception as exc:  # noqa: BLE001 - a stand-in bug must show as a 500, not hang
            status, body = 500, {"computeFault": {"code": 500, "message": f"stand-in error: {exc!r}"}}
        payload = b"" if body is None else json.dumps(body).encode()
        if body is not None:
            headers.append(("Content-Type", "application/json"))
        headers.append(("Content-Length", str(len(payload))))
        headers.append(("x-openstack-request-id", "req-" + str(uuid.uuid4())))
        reason = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 300: "Multiple Choices",
                  400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                  405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict", 500: "Internal Server Error"}
        start_response(f"{status} {reason.get(status, 'Status')}", headers)
        return [payload]

    # -- routing ----------------------------------------------------------------------------

    def dispatch(self, environ: dict[str, Any]) -> tuple[int, Any, list[tuple[str, str]]]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/").rstrip("/") or "/"
        query = parse_qs(environ.get("QUERY_STRING", ""))
        body = _read_json(environ)
        if path == "/identity":
            return 300, {"versions": {"values": [self._identity_version()]}}, []
        if path == "/identity/v3":
            return 200, {"version": self._identity_version()}, []
        if path == "/identity/v3/auth/tokens" and method == "POST":
            return self.issue_token(body)
        if path == "/compute":
            return 200, {"versions": [self._compute_version("v2.0"), self._compute_version("v2.1")]}, []
        if path == "/compute/v2.1" and method == "GET":
            return 200, {"version": self._compute_version("v2.1")}, []
        if path.startswith("/compute/v2.1/"):
            self.authenticate(environ)
            mv = self.microversion(environ)
            with self.cloud.lock:
                self.cloud.settle()
                status, out = self.compute(method, path[len("/compute/v2.1"):], query, body, mv)
            return status, out, self._mv_headers(environ)
        if path == "/placement":
            return 200, {"versions": [{"id": "v1.0", "max_version": "1.39", "min_version": "1.0",
                                       "status": "CURRENT", "links": [{"rel": "self", "href": ""}]}]}, []
        if path.startswith("/placement/"):
            self.authenticate(environ)
            with self.cloud.lock:
                self.cloud.settle()
                return 200, self.placement(path[len("/placement"):]), [
                    ("OpenStack-API-Version", "placement 1.0"), ("Vary", "openstack-api-version")]
        raise HttpError(404, {"error": {"code": 404, "title": "Not Found", "message": f"no route {path}"}})

    # -- Keystone ---------------------------------------------------------------------------

    def _identity_version(self) -> dict[str, Any]:
        return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                "links": [{"rel": "self", "href": f"{self.base}/identity/v3/"}],
                "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}

    def issue_token(self, body: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        try:
            ident = body["auth"]["identity"]
            user = ident["password"]["user"]
        except (KeyError, TypeError):
            message = "Invalid input for field 'identity': 'password' is a required property"
            raise HttpError(400, {"error": {"code": 400, "title": "Bad Request", "message": message}}) from None
        if "password" not in ident.get("methods", []):
            raise unauthorized()
        name_ok = user.get("id") == self.cloud.user["id"] or (
            user.get("name") == self.cloud.user["name"]
            and (user.get("domain") or {}).get("id", (user.get("domain") or {}).get("name", "").lower()) == "default")
        if not name_ok or user.get("password") != self.cloud.password:
            raise unauthorized()
        scope = (body["auth"].get("scope") or {}).get("project") or {}
        if scope and scope.get("id") != self.cloud.project["id"] and scope.get("name") != self.cloud.project["name"]:
            raise unauthorized()
        token, issued = secrets.token_hex(16), _now()
        with self.cloud.lock:
            self.cloud.tokens[token] = issued + TOKEN_TTL
        out: dict[str, Any] = {
            "methods": ["password"], "user": self.cloud.user, "audit_ids": [secrets.token_urlsafe(16)[:22]],
            "expires_at": _iso_us(issued + TOKEN_TTL), "issued_at": _iso_us(issued)}
        if scope:
            out.update({"project": self.cloud.project, "is_domain": False,
                        # admin: Nova's default policy keeps os-hypervisors and the host fields to admins
                        "roles": [{"id": "c3b1c2d4e5f60718293a4b5c6d7e8f92", "name": "admin"},
                                  {"id": "a3b1c2d4e5f60718293a4b5c6d7e8f90", "name": "member"},
                                  {"id": "b3b1c2d4e5f60718293a4b5c6d7e8f91", "name": "reader"}],
                        "catalog": self.catalog()})
        return 201, {"token": out}, [("X-Subject-Token", token), ("Vary", "X-Auth-Token")]

    def catalog(self) -> list[dict[str, Any]]:
        def service(kind: str, name: str, url: str) -> dict[str, Any]:
            return {"id": uuid.uuid5(uuid.NAMESPACE_URL, kind).hex, "type": kind, "name": name,
                    "endpoints": [{"id": uuid.uuid5(uuid.NAMESPACE_URL, kind + iface).hex, "interface": iface,
                                   "region": "RegionOne", "region_id": "RegionOne", "url": url}
                                  for iface in ("public", "internal", "admin")]}
        return [service("identity", "keystone", f"{self.base}/identity"),
                service("compute", "nova", f"{self.base}/compute/v2.1"),
                service("placement", "placement", f"{self.base}/placement")]

    def authenticate(self, environ: dict[str, Any]) -> None:
        token = environ.get("HTTP_X_AUTH_TOKEN")
        with self.cloud.lock:
            expires = self.cloud.tokens.get(token or "")
        if expires is None or expires < _now():
            raise unauthorized()

    # -- Nova microversions -----------------------------------------------------------------

    def _compute_version(self, vid: str) -> dict[str, Any]:
        current = vid == "v2.1"
        return {"id": vid, "status": "CURRENT" if current else "SUPPORTED",
                "version": "{}.{}".format(*MAX_MICROVERSION) if current else "",
                "min_version": "{}.{}".format(*MIN_MICROVERSION) if current else "",
                "updated": "2013-07-23T11:33:21Z" if current else "2011-01-21T11:33:21Z",
                "links": [{"rel": "self", "href": f"{self.base}/compute/{vid}/"}],
                "media-types": [{"base": "application/json",
                                 "type": f"application/vnd.openstack.compute+json;version={vid[1:]}"}]}

    def microversion(self, environ: dict[str, Any]) -> tuple[int, int]:
        raw = None
        header = environ.get("HTTP_OPENSTACK_API_VERSION", "")
        for part in header.split(","):
            words = part.strip().split()
            if len(words) == 2 and words[0].lower() == "compute":
                raw = words[1]
        raw = raw or environ.get("HTTP_X_OPENSTACK_NOVA_API_VERSION")
        if not raw:
            return MIN_MICROVERSION
        if raw.lower() == "latest":
            return MAX_MICROVERSION
        match = re.fullmatch(r"(\d+)\.(\d+)", raw.strip())
        if not match:
            raise nova_error(400, f"Invalid API version request string: {raw}")
        mv = (int(match[1]), int(match[2]))
        if not MIN_MICROVERSION <= mv <= MAX_MICROVERSION:
            raise nova_error(406, "Version {} is not supported by the API. Minimum is {}.{} and maximum is {}.{}."
                             .format(raw, *MIN_MICROVERSION, *MAX_MICROVERSION))
        environ["aicmp.mv"] = mv
        return mv

    def _mv_headers(self, environ: dict[str, Any], fallback: bool = False) -> list[tuple[str, str]]:
        mv = environ.get("aicmp.mv", MIN_MICROVERSION)
        text = "{}.{}".format(*mv)
        return [("OpenStack-API-Version", f"compute {text}"), ("X-OpenStack-Nova-API-Version", text),
                ("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version")]

    # -- Nova -------------------------------------------------------------------------------

    def compute(self, method: str, path: str, query: dict[str, list[str]], body: Any,
                mv: tuple[int, int]) -> tuple[int, Any]:
        c = self.cloud
        if path in ("/flavors/detail", "/flavors") and method == "GET":
            detail = path.endswith("detail")
            return 200, {"flavors": [self.flavor_view(f, mv, detail) for f in c.flavors.values()]}
        if m := re.fullmatch(r"/flavors/([^/]+)", path):
            flavor = c.flavors.get(m[1]) or next((f for f in c.flavors.values() if f["name"] == m[1]), None)
            if flavor is None:
                raise nova_error(404, f"Flavor {m[1]} could not be found.")
            return 200, {"flavor": self.flavor_view(flavor, mv, True)}
        if m := re.fullmatch(r"/flavors/([^/]+)/os-extra_specs", path):
            if m[1] not in c.flavors:
                raise nova_error(404, f"Flavor {m[1]} could not be found.")
            return 200, {"extra_specs": c.flavors[m[1]]["extra_specs"]}
        if path == "/os-hypervisors/statistics":
            if mv >= HYPERVISOR_STATS_REMOVED:
                raise nova_error(404, "The resource could not be found.")
            return 200, {"hypervisor_statistics": self.hypervisor_statistics()}
        if m := re.fullmatch(r"/os-quota-sets/([^/]+)(/detail)?", path):
            if m[1] != c.project["id"]:
                raise nova_error(403, "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.")
            return 200, {"quota_set": self.quota_view(mv, detail=bool(m[2]))}
        if path in ("/servers/detail", "/servers") and method == "GET":
            return 200, self.list_servers(query, mv, detail=path.endswith("detail"))
        if path == "/servers" and method == "POST":
            return self.create_server(body, mv)
        if m := re.fullmatch(r"/servers/([^/]+)", path):
            server = self.server(m[1])
            if method == "GET":
                return 200, {"server": self.server_view(server, mv)}
            if method == "DELETE":
                if server["OS-EXT-STS:task_state"] != "deleting":
                    c.later(server, {"OS-EXT-STS:task_state": "deleting"}, "gone")
                return 204, None
        if m := re.fullmatch(r"/servers/([^/]+)/action", path):
            return self.action(self.server(m[1]), body, mv)
        if m := re.fullmatch(r"/servers/([^/]+)/metadata", path):
            return 200, {"metadata": self.server(m[1])["metadata"]}
        if m := re.fullmatch(r"/servers/([^/]+)/diagnostics", path):
            return 200, self.diagnostics(self.server(m[1]), mv)
        raise nova_error(404, "The resource could not be found.")

    def flavor_view(self, f: dict[str, Any], mv: tuple[int, int], detail: bool) -> dict[str, Any]:
        links = [{"rel": "self", "href": f"{self.base}/compute/v2.1/flavors/{f['id']}"},
                 {"rel": "bookmark", "href": f"{self.base}/compute/flavors/{f['id']}"}]
        if not detail:
            out = {"id": f["id"], "name": f["name"], "links": links}
            if mv >= (2, 55):
                out["description"] = f["description"]
            return out
        out = {k: v for k, v in f.items() if k not in ("extra_specs", "description")}
        out["links"] = links
        if mv >= (2, 55):
            out["description"] = f["description"]
        if mv >= FLAVOR_EXTRA_SPECS_SINCE:
            out["extra_specs"] = dict(f["extra_specs"])
        return out

    def hypervisor_statistics(self) -> dict[str, int]:
        c = self.cloud
        vcpus = sum(h["vcpus"] for h in c.hypervisors)
        mem = sum(h["memory_mb"] for h in c.hypervisors)
        disk = sum(h["local_gb"] for h in c.hypervisors)
        live = list(c.servers.values())
        vcpus_used = sum(s["_flavor"]["vcpus"] for s in live)
        mem_used = sum(s["_flavor"]["ram"] for s in live) + 512 * len(c.hypervisors)  # reserved host memory
        disk_used = sum(s["_flavor"]["disk"] for s in live)
        return {"count": len(c.hypervisors), "vcpus": vcpus, "vcpus_used": vcpus_used, "memory_mb": mem,
                "memory_mb_used": mem_used, "free_ram_mb": mem - mem_used, "local_gb": disk,
                "local_gb_used": disk_used, "free_disk_gb": disk - disk_used, "disk_available_least": disk - disk_used,
                "current_workload": sum(1 for s in live if s["OS-EXT-STS:task_state"]),
                "running_vms": sum(1 for s in live if s["status"] != "SHUTOFF")}

    def quota_view(self, mv: tuple[int, int], detail: bool) -> dict[str, Any]:
        used = self.cloud.used()
        out: dict[str, Any] = {"id": self.cloud.project["id"]}
        for key, limit in self.cloud.quota.items():
            if key.startswith("injected_file") and mv >= QUOTA_INJECTED_FILES_REMOVED:
                continue
            out[key] = {"limit": limit, "in_use": used.get(key, 0), "reserved": 0} if detail else limit
        return out

    def server(self, sid: str) -> dict[str, Any]:
        server = self.cloud.servers.get(sid)
        if server is None:
            raise nova_error(404, f"Instance {sid} could not be found.")
        return server

    def list_servers(self, query: dict[str, list[str]], mv: tuple[int, int], detail: bool) -> dict[str, Any]:
        servers = sorted(self.cloud.servers.values(), key=lambda s: (s["created"], s["id"]), reverse=True)
        if "name" in query:
            pattern = re.compile(query["name"][0])
            servers = [s for s in servers if pattern.search(s["name"])]
        if "status" in query:
            servers = [s for s in servers if s["status"] == query["status"][0].upper()]
        if "marker" in query:
            ids = [s["id"] for s in servers]
            if query["marker"][0] not in ids:
                raise nova_error(400, f"marker [{query['marker'][0]}] not found")
            servers = servers[ids.index(query["marker"][0]) + 1:]
        limit = int(query.get("limit", ["1000"])[0])
        page, more = servers[:limit], len(servers) > limit
        out: dict[str, Any] = {"servers": [self.server_view(s, mv) if detail else
                                           {"id": s["id"], "name": s["name"], "links": s["links"]} for s in page]}
        if more:
            path = "servers/detail" if detail else "servers"
            out["servers_links"] = [{"rel": "next", "href": f"{self.base}/compute/v2.1/{path}"
                                     f"?limit={limit}&marker={page[-1]['id']}"}]
        return out

    def create_server(self, body: Any, mv: tuple[int, int]) -> tuple[int, Any]:
        c = self.cloud
        spec = (body or {}).get("server")
        if not isinstance(spec, dict):
            raise nova_error(400, "Invalid input for field/attribute server. Value: None. None is not of type 'object'")
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise nova_error(400, "Invalid input for field/attribute name.")
        if mv >= (2, 37) and "networks" not in spec:
            raise nova_error(400, "Invalid input for field/attribute server. 'networks' is a required property")
        flavor = c.flavors.get(str(spec.get("flavorRef", "")).rsplit("/", 1)[-1])
        if flavor is None:
            raise nova_error(400, f"Flavor {spec.get('flavorRef')} could not be found.")
        if str(spec.get("imageRef", "")).rsplit("/", 1)[-1] != c.image_id:
            raise nova_error(400, f"Image {spec.get('imageRef')} could not be found.")
        metadata = spec.get("metadata") or {}
        if not isinstance(metadata, dict) or any(not isinstance(v, str) or len(v) > 255 for v in metadata.values()):
            raise nova_error(400, "Invalid input for field/attribute metadata.")
        used = c.used()
        for key, need in (("instances", 1), ("cores", flavor["vcpus"]), ("ram", flavor["ram"])):
            if used[key] + need > c.quota[key]:
                raise nova_error(403, f"Quota exceeded for {key}: Requested {need}, but already used "
                                      f"{used[key]} of {c.quota[key]} {key}")
        sid, now = str(uuid.uuid4()), _now()
        host = c.host_of(flavor)
        server = {
            "id": sid, "name": name, "status": "BUILD", "tenant_id": c.project["id"], "user_id": c.user["id"],
            "metadata": dict(metadata), "hostId": uuid.uuid5(uuid.NAMESPACE_DNS, host["name"] + c.project["id"]).hex,
            "image": {"id": c.image_id,
                      "links": [{"rel": "bookmark", "href": f"{self.base}/compute/images/{c.image_id}"}]},
            "_flavor": flavor, "created": _iso(now), "updated": _iso(now), "addresses": {},
            "accessIPv4": "", "accessIPv6": "",
            "links": [{"rel": "self", "href": f"{self.base}/compute/v2.1/servers/{sid}"},
                      {"rel": "bookmark", "href": f"{self.base}/compute/servers/{sid}"}],
            "OS-DCF:diskConfig": "MANUAL", "progress": 0,
            "OS-EXT-AZ:availability_zone": spec.get("availability_zone") or "nova", "config_drive": "",
            "key_name": spec.get("key_name"), "OS-SRV-USG:launched_at": None, "OS-SRV-USG:terminated_at": None,
            "OS-EXT-STS:task_state": "scheduling", "OS-EXT-STS:vm_state": "building", "OS-EXT-STS:power_state": 0,
            "os-extended-volumes:volumes_attached": [], "security_groups": [{"name": "default"}],
            "locked": False, "locked_reason": None, "description": spec.get("description"),
            "tags": list(spec.get("tags") or []), "trusted_image_certificates": None, "server_groups": [],
            # 2.90+: the hostname for everyone; the rest of OS-EXT-SRV-ATTR and host_status for admins
            "OS-EXT-SRV-ATTR:hostname": name, "OS-EXT-SRV-ATTR:host": host["name"],
            "OS-EXT-SRV-ATTR:hypervisor_hostname": host["name"],
            "OS-EXT-SRV-ATTR:instance_name": f"instance-{len(c.servers) + 1:08x}", "OS-EXT-SRV-ATTR:kernel_id": "",
            "OS-EXT-SRV-ATTR:launch_index": 0, "OS-EXT-SRV-ATTR:ramdisk_id": "",
            "OS-EXT-SRV-ATTR:reservation_id": f"r-{secrets.token_hex(4)}",
            "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
            "OS-EXT-SRV-ATTR:user_data": None, "host_status": "UP",
            "pinned_availability_zone": spec.get("availability_zone"),
            "_host": host,
        }
        ip, mac = f"10.0.0.{len(c.servers) + 10}", f"fa:16:3e:00:00:{len(c.servers) % 256:02x}"
        c.servers[sid] = server
        c.later(server, {}, {"status": "ACTIVE", "OS-EXT-STS:task_state": None, "OS-EXT-STS:vm_state": "active",
                             "OS-EXT-STS:power_state": 1, "OS-SRV-USG:launched_at": _usg(_now()),
                             "addresses": {"private": [{"version": 4, "addr": ip, "OS-EXT-IPS:type": "fixed",
                                                        "OS-EXT-IPS-MAC:mac_addr": mac}]}})
        return 202, {"server": {"id": sid, "links": server["links"], "OS-DCF:diskConfig": "MANUAL",
                                "security_groups": [{"name": "default"}], "adminPass": secrets.token_urlsafe(9)}}

    def server_view(self, s: dict[str, Any], mv: tuple[int, int]) -> dict[str, Any]:
        out = {k: v for k, v in s.items() if not k.startswith("_")}
        f = s["_flavor"]
        if mv >= (2, 47):
            out["flavor"] = {"vcpus": f["vcpus"], "ram": f["ram"], "disk": f["disk"], "ephemeral": 0, "swap": 0,
                             "original_name": f["name"], "extra_specs": dict(f["extra_specs"])}
        else:
            bookmark = f"{self.base}/compute/flavors/{f['id']}"
            out["flavor"] = {"id": f["id"], "links": [{"rel": "bookmark", "href": bookmark}]}
        if mv < (2, 9):
            out.pop("locked")
        if mv < (2, 73):
            out.pop("locked_reason")
        if mv < (2, 19):
            out.pop("description")
        if mv < (2, 26):
            out.pop("tags")
        if mv < (2, 63):
            out.pop("trusted_image_certificates")
        if mv < (2, 71):
            out.pop("server_groups")
        if mv < (2, 96):
            out.pop("pinned_availability_zone")
        if mv < (2, 16):
            out.pop("host_status")
        if mv < (2, 3):
            for key in [k for k in out if k.startswith("OS-EXT-SRV-ATTR:") and k not in (
                    "OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname", "OS-EXT-SRV-ATTR:instance_name")]:
                out.pop(key)
        return out

    def action(self, s: dict[str, Any], body: Any, mv: tuple[int, int]) -> tuple[int, Any]:
        c = self.cloud
        if not isinstance(body, dict) or len(body) != 1:
            raise nova_error(400, "Malformed request body")
        (verb, args), sid = next(iter(body.items())), s["id"]
        vm_state, task = s["OS-EXT-STS:vm_state"], s["OS-EXT-STS:task_state"]

        def refuse(what: str) -> HttpError:
            if task:
                return nova_error(409, f"Cannot '{what}' instance {sid} while it is in task_state {task}")
            return nova_error(409, f"Cannot '{what}' instance {sid} while it is in vm_state {vm_state}")

        if verb == "os-start":
            if task or vm_state != "stopped":
                raise refuse("start")
            c.later(s, {"OS-EXT-STS:task_state": "powering-on"},
                    {"status": "ACTIVE", "OS-EXT-STS:task_state": None, "OS-EXT-STS:vm_state": "active",
                     "OS-EXT-STS:power_state": 1})
        elif verb == "os-stop":
            if task or vm_state not in ("active", "error"):
                raise refuse("stop")
            c.later(s, {"OS-EXT-STS:task_state": "powering-off"},
                    {"status": "SHUTOFF", "OS-EXT-STS:task_state": None, "OS-EXT-STS:vm_state": "stopped",
                     "OS-EXT-STS:power_state": 4})
        elif verb == "reboot":
            kind = (args or {}).get("type")
            if kind not in ("SOFT", "HARD"):
                raise nova_error(400, "Invalid input for field/attribute type.")
            if task or vm_state not in (("active",) if kind == "SOFT" else ("active", "stopped", "error")):
                raise refuse("reboot")
            c.later(s, {"status": "REBOOT" if kind == "SOFT" else "HARD_REBOOT",
                        "OS-EXT-STS:task_state": "rebooting" if kind == "SOFT" else "rebooting_hard"},
                    {"status": "ACTIVE", "OS-EXT-STS:task_state": None, "OS-EXT-STS:vm_state": "active",
                     "OS-EXT-STS:power_state": 1})
        elif verb == "resize":
            ref = str((args or {}).get("flavorRef", "")).rsplit("/", 1)[-1]
            flavor = c.flavors.get(ref)
            if flavor is None:
                raise nova_error(400, f"Flavor {ref} could not be found.")
            if task or vm_state not in ("active", "stopped"):
                raise refuse("resize")
            if flavor["id"] == s["_flavor"]["id"]:
                raise nova_error(400, "When resizing, instances must change flavor!")
            used = c.used()
            growth = (("cores", flavor["vcpus"] - s["_flavor"]["vcpus"]), ("ram", flavor["ram"] - s["_flavor"]["ram"]))
            for key, need in growth:
                if need > 0 and used[key] + need > c.quota[key]:
                    raise nova_error(403, f"Quota exceeded for {key}: Requested {need}, but already used "
                                          f"{used[key]} of {c.quota[key]} {key}")
            s["_old_flavor"], s["_flavor"], s["_old_vm_state"] = s["_flavor"], flavor, vm_state
            c.later(s, {"status": "RESIZE", "OS-EXT-STS:task_state": "resize_prep"},
                    {"status": "VERIFY_RESIZE", "OS-EXT-STS:task_state": None, "OS-EXT-STS:vm_state": "resized"})
        elif verb in ("confirmResize", "revertResize"):
            if vm_state != "resized":
                raise nova_error(409, "Instance has not been resized.")
            old_state = s.pop("_old_vm_state")
            old_flavor = s.pop("_old_flavor")
            if verb == "revertResize":
                s["_flavor"] = old_flavor
            s.update({"status": "ACTIVE" if old_state == "active" else "SHUTOFF", "OS-EXT-STS:vm_state": old_state,
                      "updated": _iso(_now())})
            return 204, None
        else:
            raise nova_error(400, f"There is no such action: {verb}")
        return 202, None

    def diagnostics(self, s: dict[str, Any], mv: tuple[int, int]) -> dict[str, Any]:
        if s["OS-EXT-STS:vm_state"] != "active":
            raise nova_error(409, f"Cannot 'get_diagnostics' instance {s['id']} while it is in vm_state "
                                  f"{s['OS-EXT-STS:vm_state']}")
        f = s["_flavor"]
        created = datetime.strptime(s["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        uptime = max(0, int((_now() - created).total_seconds()))
        return {"state": "running", "driver": "libvirt", "hypervisor": "kvm", "hypervisor_os": "linux",
                "uptime": uptime, "config_drive": False, "num_cpus": f["vcpus"], "num_nics": 1, "num_disks": 1,
                "cpu_details": [{"id": i, "time": 1_000_000 * (i + 1), "utilisation": 15} for i in range(f["vcpus"])],
                "nic_details": [], "disk_details": [{"read_bytes": 0, "read_requests": 0, "write_bytes": 0,
                                                      "write_requests": 0, "errors_count": 0}],
                "memory_details": {"maximum": f["ram"] // 1024, "used": f["ram"] // 4096}}

    # -- Placement --------------------------------------------------------------------------

    def placement(self, path: str) -> dict[str, Any]:
        c = self.cloud
        if path == "/resource_providers":
            return {"resource_providers": [
                {"uuid": h["id"], "name": h["name"], "generation": 1, "parent_provider_uuid": None,
                 "root_provider_uuid": h["id"], "links": [
                     {"rel": "self", "href": f"/placement/resource_providers/{h['id']}"},
                     {"rel": "inventories", "href": f"/placement/resource_providers/{h['id']}/inventories"},
                     {"rel": "usages", "href": f"/placement/resource_providers/{h['id']}/usages"}]}
                for h in c.hypervisors]}
        m = re.fullmatch(r"/resource_providers/([^/]+)/(inventories|usages)", path)
        host = next((h for h in c.hypervisors if m and h["id"] == m[1]), None)
        if host is None:
            raise HttpError(404, {"errors": [{"status": 404, "title": "Not Found", "detail": "No resource provider",
                                              "request_id": "req-" + str(uuid.uuid4())}]})
        mine = [s for s in c.servers.values() if s["_host"] is host]
        if m[2] == "inventories":
            inv = {"VCPU": host["vcpus"], "MEMORY_MB": host["memory_mb"], "DISK_GB": host["local_gb"], **host["gpus"]}
            return {"resource_provider_generation": 1, "inventories": {
                rc: {"total": total, "reserved": 512 if rc == "MEMORY_MB" else 0, "min_unit": 1, "max_unit": total,
                     "step_size": 1, "allocation_ratio": 1.0} for rc, total in inv.items()}}
        usages = {"VCPU": sum(s["_flavor"]["vcpus"] for s in mine), "MEMORY_MB": sum(s["_flavor"]["ram"] for s in mine),
                  "DISK_GB": sum(s["_flavor"]["disk"] for s in mine)}
        for rc in host["gpus"]:
            usages[rc] = sum(_gpu_requests(s["_flavor"]).get(rc, 0) for s in mine)
        return {"resource_provider_generation": 1, "usages": usages}


def _read_json(environ: dict[str, Any]) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if not length:
        return None
    raw = environ["wsgi.input"].read(length)
    try:
        return json.loads(raw)
    except ValueError:
        raise nova_error(400, "Malformed request body") from None


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's signature
        sys.stderr.write(f"{self.command} {self.path}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--password", default="secret")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds a state change takes")
    args = parser.parse_args(argv)
    httpd = make_server(args.host, args.port, App(Cloud(password=args.password, delay=args.delay)),
                        server_class=_Server, handler_class=_QuietHandler)
    print(f"READY http://{args.host}:{httpd.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        httpd.serve_forever()


if __name__ == "__main__":
    main()
