"""OpenStack connector: one project in one region, through openstacksdk (Keystone v3 password auth,
Nova compute v2.1 with microversions, Placement for accelerators).

What it reads and does:

- **probe**: a scoped token issue (Keystone) and Nova's version document; reports the maximum
  compute microversion.
- **capacity**: one ``region`` scope: vCPU / memory / disk totals and allocations from
  ``os-hypervisors/statistics`` (asked at microversion 2.87, the last that has it), GPUs per model
  from Placement inventories and usages (custom resource classes ``CUSTOM_GPU_<MODEL>``, or the
  ``gpu_resource_classes`` option mapping class -> model), flavors as instance types, and the
  project's quota set (limits and in-use) in ``details``.
- **resources**: servers. The client token travels as server metadata ``aicmp_client_token``;
  ``create`` lists the project's servers and returns the one carrying the token instead of booting
  a second. Nova has no server-side idempotency key, so two *concurrent* creates with one token
  can both miss the look-up; the platform serialises a token's creates (one process step).
- **resize** picks a flavor (``spec.flavor``, else the smallest that fits vCPU, memory, disk and
  GPUs), waits for ``VERIFY_RESIZE`` and confirms it, so a resize never stays half done.
- **metrics**: per server, Nova's server diagnostics (CPU utilisation, memory); for the account,
  hypervisor statistics and quota usage.

Nova's default policy lets only admins read ``os-hypervisors`` and Placement: the account that
syncs capacity needs that role; without it ``capacity`` raises ``Unauthorised`` (403), and servers
still work for a member.

Credentials: ``username``, ``password``, ``project_name`` (options ``user_domain_name`` and
``project_domain_name``, default ``Default``). Options: ``image`` (default image id for create),
``network`` (``auto`` / ``none`` / a network id; default ``auto``), ``timeout`` (seconds per HTTP
call and for waits, default 30), ``gpu_resource_classes``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from connectors import errors
from connectors.base import (
    AcceleratorCapacity,
    Amounts,
    Capacity,
    Connector,
    InstanceType,
    Metric,
    ProbeResult,
    Resource,
    ResourceSpec,
    Status,
    accelerator_profile,
    normalise_gpu_model,
)

TOKEN_KEY = "aicmp_client_token"  # noqa: S105 - a metadata key, not a secret
HYPERVISOR_STATS_MICROVERSION = "2.87"  # os-hypervisors/statistics was removed at 2.88
GPU_CLASS_PREFIX = "CUSTOM_GPU_"
MIB_PER_GIB = Decimal(1024)

# Nova's server status (and task state) -> the platform's.
_STATUS = {
    "BUILD": Status.PENDING, "ACTIVE": Status.RUNNING, "SHUTOFF": Status.STOPPED, "STOPPED": Status.STOPPED,
    "REBOOT": Status.REBOOTING, "HARD_REBOOT": Status.REBOOTING, "RESIZE": Status.RESIZING,
    "VERIFY_RESIZE": Status.RESIZING, "REVERT_RESIZE": Status.RESIZING, "MIGRATING": Status.RESIZING,
    "DELETED": Status.DELETED, "SOFT_DELETED": Status.DELETED, "ERROR": Status.ERROR,
    "PAUSED": Status.STOPPED, "SUSPENDED": Status.STOPPED, "SHELVED": Status.STOPPED,
    "SHELVED_OFFLOADED": Status.STOPPED,
}
_TASK_STATUS = {"deleting": Status.DELETING, "powering-off": Status.STOPPING, "powering-on": Status.PENDING,
                "rebooting": Status.REBOOTING, "rebooting_hard": Status.REBOOTING}

T = TypeVar("T")


class OpenStackConnector(Connector):
    """One OpenStack project in one region (see the module docstring)."""

    provider_type = "openstack"
    credential_fields = ("username", "password", "project_name")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._conn: Any = None
        self.timeout = float(self.options.get("timeout", 30))

    # -- session ----------------------------------------------------------------------------

    def _connection(self) -> Any:
        if self._conn is None:
            import openstack.connection

            c = self._credentials
            self._conn = openstack.connection.Connection(
                auth_type="password",
                auth={"auth_url": self.endpoint, "username": c["username"], "password": c["password"],
                      "project_name": c["project_name"],
                      "user_domain_name": c.get("user_domain_name") or self.options.get("user_domain_name", "Default"),
                      "project_domain_name": c.get("project_domain_name")
                      or self.options.get("project_domain_name", "Default")},
                region_name=self.region, api_timeout=self.timeout, connect_retries=0, status_code_retries=0)
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    @contextmanager
    def _calls(self, what: str) -> Iterator[None]:
        """Translate whatever openstacksdk / keystoneauth raise into ``connectors.errors``."""
        try:
            yield
        except errors.ConnectorError:
            raise
        except Exception as exc:  # noqa: BLE001 - every SDK failure is translated, none escapes
            raise translate(exc, what) from None

    def _raw(self, service: str, path: str, **kwargs: Any) -> Any:
        """A GET the SDK has no resource for; HTTP errors raised as openstacksdk's."""
        from openstack import exceptions as os_exc

        resp = getattr(self._connection(), service).get(path, raise_exc=False, **kwargs)
        os_exc.raise_from_response(resp)
        return resp.json()

    # -- probe / capacity -------------------------------------------------------------------

    def probe(self) -> ProbeResult:
        began = time.monotonic()
        with self._calls("probe"):
            conn = self._connection()
            conn.authorize()
            version = conn.compute.get_endpoint_data().max_microversion
        text = "compute {}.{}".format(*version) if version else None
        return ProbeResult(ok=True, message="token issued; compute answered", version=text,
                           latency_ms=int((time.monotonic() - began) * 1000),
                           details={"project_id": conn.current_project_id})

    def capacity(self) -> list[Capacity]:
        with self._calls("capacity"):
            conn = self._connection()
            stats = self._raw("compute", "/os-hypervisors/statistics",
                              microversion=HYPERVISOR_STATS_MICROVERSION)["hypervisor_statistics"]
            flavors = list(conn.compute.flavors(details=True))
            quota = conn.compute.get_quota_set(conn.current_project_id, usage=True)
            accelerators = self._accelerators()
        mib = Decimal
        return [Capacity(
            scope=self.region or "default", kind="region",
            vcpu=Amounts(Decimal(stats["vcpus"]), Decimal(stats["vcpus_used"])),
            memory_gib=Amounts(mib(stats["memory_mb"]) / MIB_PER_GIB, mib(stats["memory_mb_used"]) / MIB_PER_GIB),
            disk_gib=Amounts(Decimal(stats["local_gb"]), Decimal(stats["local_gb_used"])),
            accelerators=accelerators,
            instance_types=tuple(sorted((self._instance_type(f) for f in flavors), key=lambda t: t.name)),
            details={"hypervisors": stats["count"], "running_vms": stats["running_vms"],
                     "quota": {k: {"limit": (quota.to_dict().get(k)), "in_use": v}
                               for k, v in sorted((quota.usage or {}).items())}},
        )]

    def _gpu_model(self, resource_class: str) -> str | None:
        mapping: Mapping[str, str] = self.options.get("gpu_resource_classes") or {}
        if resource_class in mapping:
            return mapping[resource_class]
        if resource_class.startswith(GPU_CLASS_PREFIX):
            return normalise_gpu_model(resource_class[len(GPU_CLASS_PREFIX):].replace("_", " "))
        return None

    def _accelerators(self) -> tuple[AcceleratorCapacity, ...]:
        from openstack import exceptions as os_exc

        try:
            providers = self._raw("placement", "/resource_providers")["resource_providers"]
        except os_exc.EndpointNotFound:
            return ()  # no Placement in the catalog: no accelerator inventory to read
        totals: dict[str, list[Decimal]] = {}
        for rp in providers:
            inventories = self._raw("placement", f"/resource_providers/{rp['uuid']}/inventories")["inventories"]
            usages = self._raw("placement", f"/resource_providers/{rp['uuid']}/usages")["usages"]
            for rc, inv in inventories.items():
                model = self._gpu_model(rc)
                if model is None:
                    continue
                acc = totals.setdefault(model, [Decimal(0), Decimal(0)])
                acc[0] += Decimal(inv["total"] - inv.get("reserved", 0))
                acc[1] += Decimal(usages.get(rc, 0))
        out = []
        for model, (total, allocated) in sorted(totals.items()):
            kind, use = accelerator_profile(model)
            out.append(AcceleratorCapacity(model=model, amounts=Amounts(total, allocated), kind=kind, use=use))
        return tuple(out)

    def _flavor_gpus(self, extra_specs: Mapping[str, Any] | None) -> dict[str, int]:
        out: dict[str, int] = {}
        for key, value in (extra_specs or {}).items():
            if key.startswith("resources:"):
                model = self._gpu_model(key.split(":", 1)[1])
                if model is not None and int(value):
                    out[model] = out.get(model, 0) + int(value)
        return out

    def _instance_type(self, f: Any) -> InstanceType:
        return InstanceType(name=f.name, vcpu=int(f.vcpus), memory_gib=Decimal(f.ram) / MIB_PER_GIB,
                            disk_gib=Decimal(f.disk or 0), gpus_by_model=self._flavor_gpus(f.extra_specs))

    # -- resources --------------------------------------------------------------------------

    def list_resources(self) -> list[Resource]:
        with self._calls("list servers"):
            return [self._resource(s) for s in self._connection().compute.servers(details=True)]

    def _find_token(self, client_token: str) -> Any | None:
        for server in self._connection().compute.servers(details=True):
            if (server.metadata or {}).get(TOKEN_KEY) == client_token:
                return server
        return None

    def create(self, spec: ResourceSpec, client_token: str) -> Resource:
        from connectors.base import check_client_token

        check_client_token(client_token)
        with self._calls("create server"):
            existing = self._find_token(client_token)
            flavor = self._pick_flavor(spec)
            if existing is not None:
                if existing.name != spec.name or existing.flavor.original_name != flavor.name:
                    raise errors.Conflict(
                        f"client token {client_token} is already on server {existing.id} "
                        f"({existing.name}, {existing.flavor.original_name}), not {spec.name} ({flavor.name})",
                        provider=self.provider_type, details={"provider_id": existing.id})
                return self._resource(existing)
            image = spec.image or self.options.get("image")
            if not image:
                raise errors.InvalidSpec("image: no image given and no default image option on the account",
                                         provider=self.provider_type)
            metadata = {**{k: v for k, v in spec.tags.items() if k != TOKEN_KEY}, TOKEN_KEY: client_token}
            attrs: dict[str, Any] = {"name": spec.name, "flavor_id": flavor.id, "image_id": image,
                                     "metadata": metadata,
                                     "networks": _networks(spec.network or self.options.get("network", "auto"))}
            if spec.placement:
                attrs["availability_zone"] = spec.placement
            created = self._connection().compute.create_server(**attrs)
            return self._resource(self._connection().compute.get_server(created.id))

    def get(self, provider_id: str) -> Resource:
        with self._calls(f"get server {provider_id}"):
            return self._resource(self._connection().compute.get_server(provider_id))

    def start(self, provider_id: str) -> Resource:
        return self._power(provider_id, "start", done=Status.RUNNING,
                           call=lambda c: c.compute.start_server(provider_id))

    def stop(self, provider_id: str) -> Resource:
        return self._power(provider_id, "stop", done=Status.STOPPED,
                           call=lambda c: c.compute.stop_server(provider_id))

    def reboot(self, provider_id: str) -> Resource:
        reboot_type = str(self.options.get("reboot_type", "SOFT"))
        return self._power(provider_id, "reboot", done=None,
                           call=lambda c: c.compute.reboot_server(provider_id, reboot_type))

    def _power(self, provider_id: str, what: str, *, done: Status | None, call: Callable[[Any], Any]) -> Resource:
        with self._calls(f"{what} server {provider_id}"):
            current = self._resource(self._connection().compute.get_server(provider_id))
            if done is not None and current.status == done:
                return current  # already there: idempotent
            if current.status in (Status.DELETING, Status.DELETED):
                raise errors.Conflict(f"cannot {what} server {provider_id}: it is {current.status}",
                                      provider=self.provider_type, details={"provider_id": provider_id})
            call(self._connection())
            return self._resource(self._connection().compute.get_server(provider_id))

    def resize(self, provider_id: str, spec: ResourceSpec) -> Resource:
        with self._calls(f"resize server {provider_id}"):
            conn = self._connection()
            server = conn.compute.get_server(provider_id)
            flavor = self._pick_flavor(spec)
            if server.flavor.original_name == flavor.name and server.status != "VERIFY_RESIZE":
                return self._resource(server)  # already that size
            if server.status != "VERIFY_RESIZE":
                conn.compute.resize_server(provider_id, flavor.id)
                server = self._wait(provider_id, lambda s: s.status in ("VERIFY_RESIZE", "ERROR"), "resize")
            if server.status == "ERROR":
                raise errors.ConnectorError(f"resize of server {provider_id} failed (server in ERROR)",
                                            provider=self.provider_type, details={"provider_id": provider_id})
            conn.compute.confirm_server_resize(provider_id)
            return self._resource(conn.compute.get_server(provider_id))

    def delete(self, provider_id: str) -> Resource:
        from openstack import exceptions as os_exc

        with self._calls(f"delete server {provider_id}"):
            conn = self._connection()
            current = self._resource(conn.compute.get_server(provider_id))
            if current.status in (Status.DELETING, Status.DELETED):
                return current
            conn.compute.delete_server(provider_id)
            try:
                return self._resource(conn.compute.get_server(provider_id))
            except os_exc.NotFoundException:
                return _replace_status(current, Status.DELETED)

    def metrics(self, provider_id: str | None = None, since: datetime | None = None) -> list[Metric]:
        now = datetime.now(UTC)
        with self._calls("metrics"):
            if provider_id is None:
                conn = self._connection()
                stats = self._raw("compute", "/os-hypervisors/statistics",
                                  microversion=HYPERVISOR_STATS_MICROVERSION)["hypervisor_statistics"]
                out = [Metric("vcpu_allocated", Decimal(stats["vcpus_used"]), "count", now),
                       Metric("memory_allocated", Decimal(stats["memory_mb_used"]) / MIB_PER_GIB, "GiB", now),
                       Metric("running_vms", Decimal(stats["running_vms"]), "count", now)]
                usage = conn.compute.get_quota_set(conn.current_project_id, usage=True).usage or {}
                out += [Metric(f"quota_in_use_{k}", Decimal(v), "count", now) for k, v in sorted(usage.items())]
                return out
            diag = self._raw("compute", f"/servers/{provider_id}/diagnostics", microversion="2.48")
        cpus = diag.get("cpu_details") or []
        out = []
        if cpus and all(c.get("utilisation") is not None for c in cpus):
            util = sum(Decimal(c["utilisation"]) for c in cpus) / len(cpus)
            out.append(Metric("cpu_utilisation", util, "percent", now, provider_id))
        mem = diag.get("memory_details") or {}
        if mem.get("used") is not None:
            out.append(Metric("memory_used", Decimal(mem["used"]), "GiB", now, provider_id))
        if diag.get("uptime") is not None:
            out.append(Metric("uptime", Decimal(diag["uptime"]), "seconds", now, provider_id))
        return out

    # -- helpers ----------------------------------------------------------------------------

    def _pick_flavor(self, spec: ResourceSpec) -> Any:
        flavors = list(self._connection().compute.flavors(details=True))
        if spec.flavor:
            for f in flavors:
                if spec.flavor in (f.name, f.id):
                    return f
            raise errors.InvalidSpec(f"flavor: no flavor named {spec.flavor!r}", provider=self.provider_type)
        fits = [f for f in flavors if f.vcpus >= spec.vcpu and Decimal(f.ram) / MIB_PER_GIB >= spec.memory_gib
                and Decimal(f.disk or 0) >= spec.disk_gib
                and all(self._flavor_gpus(f.extra_specs).get(m, 0) >= n for m, n in spec.gpus_by_model.items())
                and (spec.gpus_by_model or not self._flavor_gpus(f.extra_specs))]
        if not fits:
            raise errors.InvalidSpec(
                f"no flavor has {spec.vcpu} vCPU, {spec.memory_gib} GiB memory, {spec.disk_gib} GiB disk"
                + (f" and GPUs {dict(spec.gpus_by_model)}" if spec.gpus_by_model else ""),
                provider=self.provider_type)
        return min(fits, key=lambda f: (sum(self._flavor_gpus(f.extra_specs).values()), f.vcpus, f.ram, f.disk or 0))

    def _wait(self, provider_id: str, done: Callable[[Any], bool], what: str) -> Any:
        deadline = time.monotonic() + self.timeout
        while True:
            server = self._connection().compute.get_server(provider_id)
            if done(server):
                return server
            if time.monotonic() > deadline:
                raise errors.Timeout(f"{what} of server {provider_id} did not finish in {self.timeout:g} s "
                                     f"(status {server.status})", provider=self.provider_type,
                                     details={"provider_id": provider_id})
            time.sleep(0.2)

    def _resource(self, s: Any) -> Resource:
        flavor = s.flavor
        metadata = dict(s.metadata or {})
        token = metadata.pop(TOKEN_KEY, None)
        status = _TASK_STATUS.get(s.task_state or "") or _STATUS.get((s.status or "").upper(), Status.UNKNOWN)
        addresses = tuple(a["addr"] for net in (s.addresses or {}).values() for a in net if a.get("addr"))
        spec = ResourceSpec(name=s.name, vcpu=int(flavor.vcpus or 0),
                            memory_gib=Decimal(flavor.ram or 0) / MIB_PER_GIB, disk_gib=Decimal(flavor.disk or 0),
                            gpus_by_model=self._flavor_gpus(flavor.extra_specs),
                            flavor=flavor.original_name or flavor.name, image=(s.image or {}).get("id"),
                            placement=s.availability_zone, tags=metadata)
        return Resource(provider_id=s.id, name=s.name, status=status, spec=spec, client_token=token,
                        scope=self.region or "default", addresses=addresses, created_at=_parse_time(s.created_at),
                        details={"nova_status": s.status, "vm_state": s.vm_state, "task_state": s.task_state,
                                 "host_id": s.host_id})


def _networks(value: Any) -> Any:
    if value in ("auto", "none"):
        return value
    return [{"uuid": str(value)}]


def _replace_status(resource: Resource, status: Status) -> Resource:
    from dataclasses import replace

    return replace(resource, status=status)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def translate(exc: BaseException, what: str) -> errors.ConnectorError:
    """One openstacksdk / keystoneauth failure as a ``connectors.errors`` error (no secrets: the
    messages are the provider's, which never echo the password)."""
    from keystoneauth1 import exceptions as ks
    from openstack import exceptions as os_exc

    provider = "openstack"
    cause = exc.__cause__ or exc.__context__
    if type(exc) is os_exc.SDKException and isinstance(cause, ks.ClientException):
        exc = cause  # e.g. authorize() wraps keystoneauth's Unauthorized in a bare SDKException
    if isinstance(exc, ks.DiscoveryFailure) and _caused_by(exc, (ks.ConnectTimeout, ks.RequestTimeout)):
        return errors.Timeout(f"{what}: OpenStack did not answer in time", provider=provider)
    if isinstance(exc, (ks.ConnectTimeout, ks.connection.ConnectTimeout)):
        return errors.Timeout(f"{what}: connecting to OpenStack timed out", provider=provider)
    if isinstance(exc, ks.RequestTimeout) or type(exc).__name__ in ("ReadTimeout", "Timeout"):
        return errors.Timeout(f"{what}: OpenStack did not answer in time", provider=provider)
    if isinstance(exc, (ks.ConnectFailure, ks.DiscoveryFailure, os_exc.EndpointNotFound, ks.EndpointNotFound,
                        ks.SSLError)):
        return errors.Unreachable(f"{what}: cannot reach OpenStack ({type(exc).__name__}: {_first_line(exc)})",
                                  provider=provider)
    if isinstance(exc, (ks.Unauthorized, ks.AuthorizationFailure, ks.MissingAuthPlugin)):
        return errors.Unauthorised(f"{what}: OpenStack refused the credentials", provider=provider)
    status = getattr(exc, "status_code", None) or getattr(exc, "http_status", None)
    message = _first_line(getattr(exc, "details", None) or exc)
    details = {"http_status": status} if status else {}
    if status == 401:
        return errors.Unauthorised(f"{what}: OpenStack refused the credentials", provider=provider, details=details)
    if status == 403:
        if "quota exceeded" in message.lower():
            return errors.ProviderQuotaExceeded(f"{what}: {message}", provider=provider, details=details)
        return errors.Unauthorised(f"{what}: forbidden: {message}", provider=provider, details=details)
    if status == 404:
        return errors.NotFound(f"{what}: {message}", provider=provider, details=details)
    if status == 409:
        return errors.Conflict(f"{what}: {message}", provider=provider, details=details)
    if status in (400, 413, 422):
        return errors.InvalidSpec(f"{what}: {message}", provider=provider, details=details)
    if status == 408 or status == 504:
        return errors.Timeout(f"{what}: {message}", provider=provider, details=details)
    if status and status >= 500:
        return errors.Unreachable(f"{what}: OpenStack failed ({status}): {message}", provider=provider, details=details)
    if isinstance(exc, os_exc.ResourceTimeout):
        return errors.Timeout(f"{what}: {message}", provider=provider)
    return errors.ConnectorError(f"{what}: {type(exc).__name__}: {message}", provider=provider, details=details)


def _caused_by(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether ``exc`` was raised while handling one of ``kinds`` (keystoneauth's discovery wraps
    the timeout it met in a ``DiscoveryFailure``)."""
    seen: BaseException | None = exc.__cause__ or exc.__context__
    while seen is not None:
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _first_line(value: Any) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else ""
