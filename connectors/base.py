"""The connector interface: what every provider module (simulator, aws, openstack, vsphere,
kubernetes, nvml) implements, and the plain values that cross it.

A connector is one authenticated view of one provider account in one region (an OpenStack
project, a vCenter, an AWS account+region, a Kubernetes cluster, a GPU host). It is built by
``connectors.registry.connect(provider_type, endpoint, region, credentials, options)``, which calls
``Class(endpoint=..., region=..., credentials=..., options=...)``. Building one makes no network
call; the first method call does (so building never fails for an unreachable provider).

``options`` are the account's provider settings (never secrets: they are shown to operators). One
key is common to every connector: ``timeout_s``, the most one provider call may take (the
``connector/*`` operators set it); a call that runs past it raises ``Timeout``.

Counting terms are ``connectors.vector``'s: ``vcpu`` (whole vCPUs), ``memory_gib`` and ``disk_gib``
(Decimal GiB), GPUs per accelerator model (``gpus_by_model`` {"H100": 8}; pool dimension
``gpus:<model>``). Every amount is ``int`` or ``decimal.Decimal``, never float; every time is a
timezone-aware UTC ``datetime``.

The contract, method by method (every method may also raise ``Unreachable``, ``Unauthorised`` and
``Timeout``; see ``connectors.errors`` for codes; no method returns a made-up value when the
provider did not answer):

``probe() -> ProbeResult``
    One cheap authenticated call (token issue, ``DescribeRegions``, ``CurrentTime``, ``/version``,
    ``nvmlInit``). Returns ``ok=True`` with the provider's version when it answered; ``ok=False``
    only for a provider that answered but is not usable (an NVML host without a driver says so in
    ``message``). Raises when it cannot reach or authenticate; the caller records that as down.
``capacity() -> list[Capacity]``
    One ``Capacity`` per scope a pool can stand for (a region, an availability zone, a cluster, a
    host, a node pool): totals, what is allocated to resources, what is measured used, per
    dimension, accelerators per model. ``instance_types`` lists what can be ordered there (AWS
    instance types, OpenStack flavors) as pool data. The platform's pool sync reads this and never
    invents capacity.
``list_resources() -> list[Resource]``
    Every resource (VM, instance, workload) the account sees in its region, deleted ones excluded;
    used to import existing resources and to find orphans.
``create(spec, client_token) -> Resource``
    Create one resource. Idempotent by ``client_token`` (see ``check_client_token``): the connector
    first looks for a resource carrying the token (AWS ``ClientToken``, a tag, metadata, a
    label, an annotation) and returns that one (whatever its status) instead of creating a second.
    So a create retried after a timeout or a lost response never makes two resources. Returns
    as soon as the provider accepted it (status usually ``pending``). Raises ``InvalidSpec``,
    ``ProviderQuotaExceeded``, ``Conflict`` (the token is on a resource with a different spec).
``get(provider_id) -> Resource``
    The resource as the provider sees it now; ``NotFound`` when it does not know the id (a
    terminated one it still lists is returned with status ``deleted``).
``start / stop / reboot(provider_id) -> Resource``
    Power operations, idempotent: starting a running resource returns it unchanged. ``Conflict``
    when its state forbids it (a deleted one); ``NotFound``. Return after the provider accepted
    the request (status may be transitional).
``resize(provider_id, spec) -> Resource``
    Change vCPU / memory / disk / flavor to ``spec``'s. ``Conflict`` if the provider needs the
    resource stopped first and it is not; ``InvalidSpec``; ``Unsupported`` where it cannot.
``delete(provider_id) -> Resource``
    Delete (terminate, destroy). Idempotent: deleting a resource already deleted or being
    deleted returns it (status ``deleting`` / ``deleted``). ``NotFound`` when the id was never
    known; the caller may treat that as already gone.
``metrics(provider_id=None, since=None) -> list[Metric]``
    Current measurements of one resource, or of the account/host when ``provider_id`` is None
    (NVML: utilisation, memory, temperature per GPU). Empty list when the provider has none.
``close()``
    Release sessions and sockets. Connectors are context managers.

A provider type that cannot do an operation at all raises ``Unsupported`` (never a silent no-op).
Nothing a connector returns or raises contains credentials.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from connectors import vector


class Status(StrEnum):
    """A resource's lifecycle state, common to every provider (map yours onto these)."""

    PENDING = "pending"  # being created / booting
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    REBOOTING = "rebooting"
    RESIZING = "resizing"
    DELETING = "deleting"
    DELETED = "deleted"
    ERROR = "error"
    UNKNOWN = "unknown"


class AcceleratorKind(StrEnum):
    GPU = "gpu"
    NPU = "npu"


class AcceleratorUse(StrEnum):
    TRAINING = "training"
    INFERENCE = "inference"
    GENERAL = "general"


# What is known of common accelerator models: (kind, use). ``accelerator_profile`` looks a model up.
KNOWN_ACCELERATORS: dict[str, tuple[AcceleratorKind, AcceleratorUse]] = {
    "H200": (AcceleratorKind.GPU, AcceleratorUse.TRAINING),
    "H100": (AcceleratorKind.GPU, AcceleratorUse.TRAINING),
    "H800": (AcceleratorKind.GPU, AcceleratorUse.TRAINING),
    "H20": (AcceleratorKind.GPU, AcceleratorUse.INFERENCE),
    "A100": (AcceleratorKind.GPU, AcceleratorUse.TRAINING),
    "A800": (AcceleratorKind.GPU, AcceleratorUse.TRAINING),
    "V100": (AcceleratorKind.GPU, AcceleratorUse.TRAINING),
    "A10": (AcceleratorKind.GPU, AcceleratorUse.INFERENCE),
    "A10G": (AcceleratorKind.GPU, AcceleratorUse.INFERENCE),
    "L4": (AcceleratorKind.GPU, AcceleratorUse.INFERENCE),
    "L40S": (AcceleratorKind.GPU, AcceleratorUse.INFERENCE),
    "T4": (AcceleratorKind.GPU, AcceleratorUse.INFERENCE),
    "Ascend 910B": (AcceleratorKind.NPU, AcceleratorUse.TRAINING),
    "Ascend 910": (AcceleratorKind.NPU, AcceleratorUse.TRAINING),
    "Ascend 310P": (AcceleratorKind.NPU, AcceleratorUse.INFERENCE),
}


def accelerator_profile(model: str) -> tuple[AcceleratorKind, AcceleratorUse]:
    """(kind, use) of an accelerator model; an unknown model is a general-purpose GPU."""
    return KNOWN_ACCELERATORS.get(model, (AcceleratorKind.GPU, AcceleratorUse.GENERAL))


def normalise_gpu_model(name: str) -> str:
    """A provider's device name as a pool model name: "NVIDIA H100 80GB HBM3" -> "H100",
    "Tesla T4" -> "T4", "NVIDIA A100-SXM4-40GB" -> "A100"; an unrecognised name is kept (trimmed)."""
    text = " ".join(name.replace("_", " ").split())
    for model in sorted(KNOWN_ACCELERATORS, key=len, reverse=True):
        if re.search(rf"(^|[\s\-]){re.escape(model)}($|[\s\-])", text, flags=re.IGNORECASE):
            return model
    return text


@dataclass(frozen=True)
class Amounts:
    """One dimension of a capacity: ``total`` the provider has, ``allocated`` to resources
    (flavor sizes, requests, reservations), ``used`` measured in use (0 where not measured)."""

    total: Decimal = Decimal(0)
    allocated: Decimal = Decimal(0)
    used: Decimal = Decimal(0)

    @property
    def free(self) -> Decimal:
        return max(self.total - self.allocated, Decimal(0))


@dataclass(frozen=True)
class AcceleratorCapacity:
    """Accelerators of one model in one capacity scope."""

    model: str  # pool model name ("H100", "Ascend 910B"), see normalise_gpu_model
    amounts: Amounts
    kind: AcceleratorKind = AcceleratorKind.GPU
    use: AcceleratorUse = AcceleratorUse.GENERAL
    memory_gib: Decimal | None = None  # per device

    @property
    def dimension(self) -> str:
        return vector.gpu_dimension(self.model)


@dataclass(frozen=True)
class InstanceType:
    """Something that can be ordered in a scope: an AWS instance type, an OpenStack flavor."""

    name: str
    vcpu: int
    memory_gib: Decimal
    disk_gib: Decimal = Decimal(0)
    gpus_by_model: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Capacity:
    """What one scope (a pool's worth: region, zone, cluster, host) has. ``scope`` is stable across
    syncs: the pool sync keys pools on (account, scope)."""

    scope: str
    vcpu: Amounts = Amounts()
    memory_gib: Amounts = Amounts()
    disk_gib: Amounts = Amounts()
    accelerators: tuple[AcceleratorCapacity, ...] = ()
    instance_types: tuple[InstanceType, ...] = ()
    kind: str = "region"  # region | zone | cluster | host | datastore | namespace ...
    details: Mapping[str, Any] = field(default_factory=dict)

    def dimensions(self) -> dict[str, Amounts]:
        """Per pool dimension (vector terms): vcpu, memory_gib, disk_gib, gpus (all models), gpus:<model>."""
        out = {"vcpu": self.vcpu, "memory_gib": self.memory_gib, "disk_gib": self.disk_gib}
        if self.accelerators:
            out["gpus"] = Amounts(sum((a.amounts.total for a in self.accelerators), Decimal(0)),
                                  sum((a.amounts.allocated for a in self.accelerators), Decimal(0)),
                                  sum((a.amounts.used for a in self.accelerators), Decimal(0)))
        for acc in self.accelerators:
            out[acc.dimension] = acc.amounts
        return out


@dataclass(frozen=True)
class ResourceSpec:
    """What to create (or resize to). Unset sizes come from ``flavor`` where the provider has one."""

    name: str
    vcpu: int = 0
    memory_gib: Decimal = Decimal(0)
    disk_gib: Decimal = Decimal(0)
    gpus_by_model: Mapping[str, int] = field(default_factory=dict)
    flavor: str | None = None  # instance type / flavor / VM size name
    image: str | None = None  # AMI / image / template / container image
    placement: str | None = None  # capacity scope: zone, cluster, host, namespace
    network: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)  # provider-specific extras

    @property
    def gpu_count(self) -> int:
        return sum(self.gpus_by_model.values())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "vcpu": self.vcpu, "memory_gib": str(self.memory_gib),
                "disk_gib": str(self.disk_gib), "gpus_by_model": dict(self.gpus_by_model),
                "flavor": self.flavor, "image": self.image, "placement": self.placement,
                "network": self.network, "tags": dict(self.tags), "options": dict(self.options)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResourceSpec:
        """From ``to_dict`` or operator parameters; raises ``ValueError`` naming a bad field."""
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError("name: a non-empty resource name is required")
        return cls(name=name.strip(), vcpu=_whole(data, "vcpu"), memory_gib=_decimal(data, "memory_gib"),
                   disk_gib=_decimal(data, "disk_gib"), gpus_by_model=_gpus(data.get("gpus_by_model")),
                   flavor=_text(data, "flavor"), image=_text(data, "image"), placement=_text(data, "placement"),
                   network=_text(data, "network"), tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
                   options=dict(data.get("options") or {}))


@dataclass(frozen=True)
class Resource:
    """A resource as the provider reports it."""

    provider_id: str
    name: str
    status: Status
    spec: ResourceSpec
    client_token: str | None = None
    scope: str | None = None  # the Capacity.scope it counts in
    addresses: tuple[str, ...] = ()
    created_at: datetime | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # provider extras (no secrets)

    def to_dict(self) -> dict[str, Any]:
        return {"provider_id": self.provider_id, "name": self.name, "status": str(self.status),
                "spec": self.spec.to_dict(), "client_token": self.client_token, "scope": self.scope,
                "addresses": list(self.addresses),
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "details": dict(self.details)}


@dataclass(frozen=True)
class ProbeResult:
    """The answer of ``probe``. ``latency_ms`` is the round trip the connector measured (the caller
    measures it when None)."""

    ok: bool
    message: str = ""
    version: str | None = None
    latency_ms: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    """One measurement. ``provider_id`` None: of the account / host / device named in ``labels``."""

    name: str  # "cpu_utilisation", "gpu_utilisation", "gpu_memory_used", "gpu_temperature", ...
    value: Decimal
    unit: str  # "percent", "GiB", "celsius", "count"
    at: datetime
    provider_id: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


CLIENT_TOKEN_MAX = 64  # AWS's ClientToken limit, the smallest of the providers'
_TOKEN = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


def check_client_token(token: Any) -> str:
    """A client token is 1-64 characters of letters, digits and ``. _ : -`` (fits an AWS
    ClientToken, an OpenStack metadata value, a vSphere annotation and a Kubernetes label value
    once ``:`` is mapped). Raises ``ValueError`` otherwise."""
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise ValueError("client_token: 1-64 characters of letters, digits and . _ : -")
    return token


class Connector(ABC):
    """One provider account in one region. Subclasses set ``provider_type`` and
    ``credential_fields`` (the keys ``credentials`` must carry), and implement every method (see the
    module docstring for the contract)."""

    provider_type: ClassVar[str] = ""
    credential_fields: ClassVar[tuple[str, ...]] = ()
    endpoint_required: ClassVar[bool] = True

    def __init__(self, *, endpoint: str | None, region: str | None, credentials: Mapping[str, Any],
                 options: Mapping[str, Any] | None = None) -> None:
        missing = [k for k in self.credential_fields if not credentials.get(k)]
        if missing:
            from connectors.errors import Unauthorised
            raise Unauthorised(f"{self.provider_type} credentials lack {', '.join(missing)}",
                               provider=self.provider_type, details={"missing": missing})
        if self.endpoint_required and not endpoint:
            from connectors.errors import InvalidSpec
            raise InvalidSpec(f"{self.provider_type} needs an endpoint", provider=self.provider_type)
        self.endpoint = endpoint
        self.region = region
        self._credentials = dict(credentials)  # never logged, never in repr, never in errors
        self.options: dict[str, Any] = dict(options or {})

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.provider_type} endpoint={self.endpoint!r} region={self.region!r}>"

    @abstractmethod
    def probe(self) -> ProbeResult: ...

    @abstractmethod
    def capacity(self) -> list[Capacity]: ...

    @abstractmethod
    def list_resources(self) -> list[Resource]: ...

    @abstractmethod
    def create(self, spec: ResourceSpec, client_token: str) -> Resource: ...

    @abstractmethod
    def get(self, provider_id: str) -> Resource: ...

    @abstractmethod
    def start(self, provider_id: str) -> Resource: ...

    @abstractmethod
    def stop(self, provider_id: str) -> Resource: ...

    @abstractmethod
    def reboot(self, provider_id: str) -> Resource: ...

    @abstractmethod
    def resize(self, provider_id: str, spec: ResourceSpec) -> Resource: ...

    @abstractmethod
    def delete(self, provider_id: str) -> Resource: ...

    @abstractmethod
    def metrics(self, provider_id: str | None = None, since: datetime | None = None) -> list[Metric]: ...

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release sessions; the default holds none."""

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key}: must be text")
    return value


def _whole(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key) or 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key}: must be a non-negative whole number")
    return value


def _decimal(data: Mapping[str, Any], key: str) -> Decimal:
    raw = data.get(key) or 0
    if isinstance(raw, (bool, float)):
        raise ValueError(f"{key}: give a decimal as text or an integer, not {type(raw).__name__}")
    try:
        value = Decimal(str(raw))
    except ArithmeticError as exc:
        raise ValueError(f"{key}: not a number") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"{key}: must be a non-negative number")
    return value


def _gpus(raw: Any) -> dict[str, int]:
    if not raw:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError("gpus_by_model: must be an object of model -> count")
    out: dict[str, int] = {}
    for model, count in raw.items():
        problem = vector.model_problem(model)
        if problem:
            raise ValueError(f"gpus_by_model: model {model!r} needs {problem}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"gpus_by_model: count of {model} must be a non-negative whole number")
        if count:
            out[model] = count
    return out
