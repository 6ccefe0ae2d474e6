"""The simulator: the embedded default provider, so flows and reliability tests run without a cloud.

A simulated cloud lives in a SQLite state file (stdlib ``sqlite3``), not in the platform's
database: like a real cloud it is outside the platform (wiping or migrating the platform's database
leaves it be, two platform databases can share one), it is shared by every process that opens the
same file (API server, Celery workers, tests), and each call is one ``BEGIN IMMEDIATE``
transaction, so concurrent calls serialise and a retried create can never make two resources.
The connector module imports nothing of the project beyond ``connectors``.

Everything is deterministic: ids are derived from the cloud name and a sequence number, status
changes happen at the call that asks for them, metrics are computed from ids and the call count.

Set a cloud up with ``configure`` (or ``ensure``: the platform calls it when a simulator account is
registered, so ``sim://<any name>`` works out of the box), then connect with
``endpoint="sim://<cloud>"``, ``credentials={"api_key": ...}`` and
``options={"state_path": <file>}``::

    configure(path, "lab", api_key="k", zones={"zone-a": Zone(vcpu=64, memory_gib=512, disk_gib=4000,
                                                              gpus={"H100": 8})}, latency_ms=0)
    add_fault(path, "lab", op="create", nth=2, kind="lose_response")   # the 2nd create: made, then Timeout

Faults (``add_fault``), each firing once, at the ``nth`` call of ``op`` (or of any op: ``"*"``)
counted since the cloud was configured:

``error``          raise ``connectors.errors.<error>`` (default ``Unreachable``) before doing anything
``timeout``        raise ``Timeout`` before doing anything (the provider never saw the call)
``lose_response``  do the call and commit it, then raise ``Timeout`` (the response was lost): a
                   create retried with the same client token must return the one resource made

Latency: every call sleeps ``latency_ms`` (per cloud) first, measured by ``probe`` as latency; when
that is longer than ``options.timeout_s`` the call waits ``timeout_s`` and raises ``Timeout``.
A create that does not fit the zone's free capacity raises ``ProviderQuotaExceeded``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

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
    check_client_token,
)

SCHEME = "sim://"
VERSION = "aicmp-simulator/1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FAULT_KINDS = ("error", "timeout", "lose_response")
OPERATIONS = (
    "probe",
    "capacity",
    "list_resources",
    "create",
    "get",
    "start",
    "stop",
    "reboot",
    "resize",
    "delete",
    "metrics",
)
FLAVORS: tuple[InstanceType, ...] = (
    InstanceType("sim.small", 2, Decimal(4), Decimal(40)),
    InstanceType("sim.large", 16, Decimal(64), Decimal(200)),
    InstanceType("sim.gpu.h100", 24, Decimal(256), Decimal(1000), {"H100": 1}),
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clouds (name TEXT PRIMARY KEY, key_hash TEXT NOT NULL, config TEXT NOT NULL,
                                   seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS calls (cloud TEXT NOT NULL, op TEXT NOT NULL, n INTEGER NOT NULL,
                                  PRIMARY KEY (cloud, op));
CREATE TABLE IF NOT EXISTS resources (cloud TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
                                      spec TEXT NOT NULL, client_token TEXT, zone TEXT NOT NULL,
                                      created_at TEXT NOT NULL, PRIMARY KEY (cloud, id));
CREATE UNIQUE INDEX IF NOT EXISTS resources_token ON resources (cloud, client_token);
"""


@dataclass(frozen=True)
class Zone:
    """One capacity scope of a simulated cloud."""

    vcpu: int = 0
    memory_gib: Decimal | int = 0
    disk_gib: Decimal | int = 0
    gpus: Mapping[str, int] = field(default_factory=dict)


DEFAULT_ZONES = {
    "zone-a": Zone(vcpu=256, memory_gib=2048, disk_gib=20000, gpus={"H100": 16, "A100": 8}),
    "zone-b": Zone(vcpu=128, memory_gib=1024, disk_gib=10000, gpus={"Ascend 910B": 16}),
}


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _open(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(_SCHEMA)
    return conn


@contextmanager
def _transaction(path: str | Path) -> Iterator[sqlite3.Connection]:
    conn = _open(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


def _check_name(cloud: str) -> str:
    if not isinstance(cloud, str) or not _NAME.match(cloud):
        raise ValueError("cloud: 1-64 letters, digits, '.', '_' or '-'")
    return cloud


def configure(
    state_path: str | Path,
    cloud: str,
    *,
    api_key: str,
    zones: Mapping[str, Zone] | None = None,
    latency_ms: int = 0,
    reset: bool = False,
) -> None:
    """Create or reconfigure a simulated cloud. Clears its faults and call counters; ``reset`` also
    forgets its resources."""
    _check_name(cloud)
    config = {
        "zones": {
            z: {**asdict(v), "memory_gib": str(v.memory_gib), "disk_gib": str(v.disk_gib), "gpus": dict(v.gpus)}
            for z, v in (zones or DEFAULT_ZONES).items()
        },
        "latency_ms": int(latency_ms),
        "faults": [],
    }
    with _transaction(state_path) as conn:
        conn.execute(
            "INSERT INTO clouds (name, key_hash, config) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "key_hash = excluded.key_hash, config = excluded.config",
            (cloud, _hash(api_key), json.dumps(config)),
        )
        conn.execute("DELETE FROM calls WHERE cloud = ?", (cloud,))
        if reset:
            conn.execute("DELETE FROM resources WHERE cloud = ?", (cloud,))


def ensure(state_path: str | Path, cloud: str, *, api_key: str) -> bool:
    """Configure ``cloud`` with the default zones unless it exists; True when it was created."""
    with _transaction(state_path) as conn:
        if conn.execute("SELECT 1 FROM clouds WHERE name = ?", (_check_name(cloud),)).fetchone():
            return False
    configure(state_path, cloud, api_key=api_key)
    return True


def add_fault(state_path: str | Path, cloud: str, *, op: str, nth: int, kind: str, error: str = "Unreachable") -> None:
    """Make the ``nth`` call of ``op`` (``"*"``: any operation) fail as ``kind`` (see the module docstring)."""
    if op != "*" and op not in OPERATIONS:
        raise ValueError(f"op: one of {', '.join(OPERATIONS)} or *")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind: one of {', '.join(FAULT_KINDS)}")
    if not isinstance(getattr(errors, error, None), type):
        raise ValueError(f"error: a class of connectors.errors, not {error!r}")
    with _transaction(state_path) as conn:
        row = conn.execute("SELECT config FROM clouds WHERE name = ?", (cloud,)).fetchone()
        if row is None:
            raise ValueError(f"no simulated cloud {cloud!r}")
        config = json.loads(row[0])
        config["faults"].append({"op": op, "nth": int(nth), "kind": kind, "error": error})
        conn.execute("UPDATE clouds SET config = ? WHERE name = ?", (json.dumps(config), cloud))


def set_latency(state_path: str | Path, cloud: str, latency_ms: int) -> None:
    with _transaction(state_path) as conn:
        row = conn.execute("SELECT config FROM clouds WHERE name = ?", (cloud,)).fetchone()
        if row is None:
            raise ValueError(f"no simulated cloud {cloud!r}")
        config = json.loads(row[0])
        config["latency_ms"] = int(latency_ms)
        conn.execute("UPDATE clouds SET config = ? WHERE name = ?", (json.dumps(config), cloud))


def count_resources(state_path: str | Path, cloud: str, *, client_token: str | None = None) -> int:
    """How many resources (deleted ones included) the cloud holds: for tests to prove idempotency."""
    conn = _open(state_path)
    try:
        if client_token is None:
            return conn.execute("SELECT count(*) FROM resources WHERE cloud = ?", (cloud,)).fetchone()[0]
        return conn.execute(
            "SELECT count(*) FROM resources WHERE cloud = ? AND client_token = ?", (cloud, client_token)
        ).fetchone()[0]
    finally:
        conn.close()


def _spec_json(spec: ResourceSpec) -> str:
    return json.dumps(spec.to_dict(), sort_keys=True)


def _same_request(a: ResourceSpec, b: ResourceSpec) -> bool:
    keys = ("name", "vcpu", "memory_gib", "disk_gib", "gpus_by_model", "flavor", "image", "placement")
    da, db = a.to_dict(), b.to_dict()
    return all(da[k] == db[k] for k in keys)


class SimulatorConnector(Connector):
    """``endpoint``: ``sim://<cloud>``; ``credentials``: ``{"api_key"}``; ``options``: ``state_path``
    (required), ``placement`` (default zone for creates)."""

    provider_type = "simulator"
    credential_fields = ("api_key",)

    def __init__(
        self,
        *,
        endpoint: str | None,
        region: str | None,
        credentials: Mapping[str, Any],
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(endpoint=endpoint, region=region, credentials=credentials, options=options)
        name = (endpoint or "").removeprefix(SCHEME)
        if not _NAME.match(name):
            raise errors.InvalidSpec(f"simulator endpoint must be {SCHEME}<cloud>", provider=self.provider_type)
        self.cloud = name
        path = self.options.get("state_path")
        if not path:
            raise errors.InvalidSpec("simulator needs options.state_path", provider=self.provider_type)
        self.state_path = Path(path)

    # -- the call frame: latency, auth, faults, one transaction ------------------------------------

    @contextmanager
    def _call(self, op: str) -> Iterator[tuple[sqlite3.Connection, dict[str, Any]]]:
        try:
            conn = _open(self.state_path)
        except sqlite3.Error as exc:
            raise errors.Unreachable(
                f"simulator state {self.state_path} cannot be opened: {exc}", provider=self.provider_type
            ) from exc
        lost = False
        try:
            row = conn.execute("SELECT key_hash, config FROM clouds WHERE name = ?", (self.cloud,)).fetchone()
            if row is None:
                raise errors.Unreachable(f"no simulated cloud at {SCHEME}{self.cloud}", provider=self.provider_type)
            config = json.loads(row[1])
            latency = config.get("latency_ms", 0) / 1000
            limit = float(self.options.get("timeout_s") or 0)
            if limit and latency > limit:  # slower than the caller waits: it gives up, nothing happens
                time.sleep(limit)
                raise errors.Timeout(f"{SCHEME}{self.cloud} did not answer {op} within {limit} s",
                                     provider=self.provider_type, details={"op": op})
            if latency:
                time.sleep(latency)
            if not hmac.compare_digest(row[0], _hash(str(self._credentials.get("api_key", "")))):
                raise errors.Unauthorised(f"{SCHEME}{self.cloud} refused the api key", provider=self.provider_type)
            conn.execute("BEGIN IMMEDIATE")
            try:
                fault = self._next_fault(conn, op, config)
                if fault and fault["kind"] != "lose_response":
                    conn.execute("COMMIT")  # the call is counted even though it fails
                    self._raise(fault, op)
                yield conn, config
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            lost = fault is not None
        finally:
            conn.close()
        if lost:
            raise errors.Timeout(
                f"simulated: the response to {op} was lost after it took effect",
                provider=self.provider_type,
                details={"fault": "lose_response", "op": op},
            )

    def _next_fault(self, conn: sqlite3.Connection, op: str, config: dict[str, Any]) -> dict[str, Any] | None:
        counts = {}
        for name in (op, "*"):
            conn.execute(
                "INSERT INTO calls (cloud, op, n) VALUES (?, ?, 1) ON CONFLICT (cloud, op) DO UPDATE SET n = n + 1",
                (self.cloud, name),
            )
            counts[name] = conn.execute(
                "SELECT n FROM calls WHERE cloud = ? AND op = ?", (self.cloud, name)
            ).fetchone()[0]
        for fault in config.get("faults", []):
            if fault["op"] in counts and counts[fault["op"]] == fault["nth"]:
                return fault
        return None

    def _raise(self, fault: dict[str, Any], op: str) -> None:
        details = {"fault": fault["kind"], "op": op}
        if fault["kind"] == "timeout":
            raise errors.Timeout(f"simulated: {op} timed out", provider=self.provider_type, details=details)
        cls = getattr(errors, fault["error"])
        raise cls(f"simulated: {op} failed ({fault['error']})", provider=self.provider_type, details=details)

    def _calls(self, conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT n FROM calls WHERE cloud = ? AND op = '*'", (self.cloud,)).fetchone()
        return row[0] if row else 0

    # -- reading rows ---------------------------------------------------------------------------------

    @staticmethod
    def _resource(row: tuple[Any, ...]) -> Resource:
        rid, name, status, spec, token, zone, created = row
        return Resource(
            provider_id=rid,
            name=name,
            status=Status(status),
            spec=ResourceSpec.from_dict(json.loads(spec)),
            client_token=token,
            scope=zone,
            created_at=datetime.fromisoformat(created),
        )

    def _row(self, conn: sqlite3.Connection, provider_id: str) -> Resource:
        row = conn.execute(
            "SELECT id, name, status, spec, client_token, zone, created_at FROM resources WHERE cloud = ? AND id = ?",
            (self.cloud, provider_id),
        ).fetchone()
        if row is None:
            raise errors.NotFound(f"no resource {provider_id} in {SCHEME}{self.cloud}", provider=self.provider_type)
        return self._resource(row)

    def _set_status(self, conn: sqlite3.Connection, provider_id: str, status: Status) -> Resource:
        conn.execute(
            "UPDATE resources SET status = ? WHERE cloud = ? AND id = ?", (str(status), self.cloud, provider_id)
        )
        return self._row(conn, provider_id)

    def _live(self, conn: sqlite3.Connection) -> list[Resource]:
        rows = conn.execute(
            "SELECT id, name, status, spec, client_token, zone, created_at FROM resources "
            "WHERE cloud = ? AND status != 'deleted' ORDER BY id",
            (self.cloud,),
        ).fetchall()
        return [self._resource(r) for r in rows]

    # -- the interface ----------------------------------------------------------------------------------

    def probe(self) -> ProbeResult:
        began = time.monotonic()
        with self._call("probe") as (_conn, config):
            zones = sorted(config["zones"])
        return ProbeResult(
            ok=True,
            message=f"{len(zones)} zones",
            version=VERSION,
            latency_ms=round((time.monotonic() - began) * 1000),
            details={"zones": zones},
        )

    def capacity(self) -> list[Capacity]:
        with self._call("capacity") as (conn, config):
            live = self._live(conn)
        out = []
        for zone, raw in sorted(config["zones"].items()):
            here = [r for r in live if r.scope == zone]
            running = [r for r in here if r.status == Status.RUNNING]
            gpus = []
            for model, total in sorted(raw["gpus"].items()):
                kind, use = accelerator_profile(model)
                gpus.append(
                    AcceleratorCapacity(
                        model, Amounts(Decimal(total), _sum_gpu(here, model), _sum_gpu(running, model)), kind, use
                    )
                )
            out.append(
                Capacity(
                    scope=zone,
                    kind="zone",
                    vcpu=Amounts(Decimal(raw["vcpu"]), _sum(here, "vcpu"), _sum(running, "vcpu")),
                    memory_gib=Amounts(
                        Decimal(raw["memory_gib"]), _sum(here, "memory_gib"), _sum(running, "memory_gib")
                    ),
                    disk_gib=Amounts(Decimal(raw["disk_gib"]), _sum(here, "disk_gib"), _sum(running, "disk_gib")),
                    accelerators=tuple(gpus),
                    instance_types=FLAVORS,
                )
            )
        return out

    def list_resources(self) -> list[Resource]:
        with self._call("list_resources") as (conn, _config):
            return self._live(conn)

    def create(self, spec: ResourceSpec, client_token: str) -> Resource:
        try:
            check_client_token(client_token)
        except ValueError as exc:
            raise errors.InvalidSpec(str(exc), provider=self.provider_type) from exc
        spec = self._sized(spec)
        with self._call("create") as (conn, config):
            row = conn.execute(
                "SELECT id FROM resources WHERE cloud = ? AND client_token = ?", (self.cloud, client_token)
            ).fetchone()
            if row is not None:
                found = self._row(conn, row[0])
                if not _same_request(found.spec, spec):
                    raise errors.Conflict(
                        f"client token {client_token} was used for a different request", provider=self.provider_type
                    )
                return found
            zone = spec.placement or self.options.get("placement") or self.region or sorted(config["zones"])[0]
            if zone not in config["zones"]:
                raise errors.InvalidSpec(f"no zone {zone!r} in {SCHEME}{self.cloud}", provider=self.provider_type)
            self._check_fits(conn, config["zones"][zone], zone, spec)
            seq = conn.execute(
                "UPDATE clouds SET seq = seq + 1 WHERE name = ? RETURNING seq", (self.cloud,)
            ).fetchone()[0]
            rid = "sim-" + hashlib.sha256(f"{self.cloud}/{seq}".encode()).hexdigest()[:12]
            created = datetime.fromtimestamp(1767225600 + seq, UTC).isoformat()
            conn.execute(
                "INSERT INTO resources (cloud, id, name, status, spec, client_token, zone, created_at) "
                "VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
                (self.cloud, rid, spec.name, _spec_json(spec), client_token, zone, created),
            )
            return self._row(conn, rid)

    def _sized(self, spec: ResourceSpec) -> ResourceSpec:
        """A flavor names the size; explicit sizes must then agree with it."""
        if spec.flavor is None:
            if spec.vcpu < 1 or spec.memory_gib <= 0:
                raise errors.InvalidSpec(
                    "a spec without a flavor needs vcpu and memory_gib", provider=self.provider_type
                )
            return spec
        flavor = next((f for f in FLAVORS if f.name == spec.flavor), None)
        if flavor is None:
            raise errors.InvalidSpec(f"unknown flavor {spec.flavor!r}", provider=self.provider_type)
        return ResourceSpec(
            **{
                **spec.__dict__,
                "vcpu": flavor.vcpu,
                "memory_gib": flavor.memory_gib,
                "disk_gib": spec.disk_gib or flavor.disk_gib,
                "gpus_by_model": dict(flavor.gpus_by_model),
            }
        )

    def _check_fits(
        self,
        conn: sqlite3.Connection,
        zone: dict[str, Any],
        name: str,
        spec: ResourceSpec,
        *,
        replacing: str | None = None,
    ) -> None:
        here = [r for r in self._live(conn) if r.scope == name and r.provider_id != replacing]
        short = []
        for dim in ("vcpu", "memory_gib", "disk_gib"):
            if _sum(here, dim) + Decimal(getattr(spec, dim)) > Decimal(zone[dim]):
                short.append(dim)
        for model, count in spec.gpus_by_model.items():
            if _sum_gpu(here, model) + count > zone["gpus"].get(model, 0):
                short.append(f"gpus:{model}")
        if short:
            raise errors.ProviderQuotaExceeded(
                f"zone {name} has too little free {', '.join(short)}",
                provider=self.provider_type,
                details={"dimensions": short},
            )

    def get(self, provider_id: str) -> Resource:
        with self._call("get") as (conn, _config):
            return self._row(conn, provider_id)

    def _power(self, op: str, provider_id: str, allowed: tuple[Status, ...], target: Status) -> Resource:
        with self._call(op) as (conn, _config):
            found = self._row(conn, provider_id)
            if found.status == target and op != "reboot":
                return found
            if found.status not in allowed:
                raise errors.Conflict(
                    f"cannot {op} {provider_id}: it is {found.status}",
                    provider=self.provider_type,
                    details={"status": str(found.status)},
                )
            return self._set_status(conn, provider_id, target)

    def start(self, provider_id: str) -> Resource:
        return self._power("start", provider_id, (Status.STOPPED,), Status.RUNNING)

    def stop(self, provider_id: str) -> Resource:
        return self._power("stop", provider_id, (Status.RUNNING,), Status.STOPPED)

    def reboot(self, provider_id: str) -> Resource:
        return self._power("reboot", provider_id, (Status.RUNNING,), Status.RUNNING)

    def resize(self, provider_id: str, spec: ResourceSpec) -> Resource:
        spec = self._sized(spec)
        with self._call("resize") as (conn, config):
            found = self._row(conn, provider_id)
            if found.status != Status.STOPPED:
                raise errors.Conflict(
                    f"resize needs {provider_id} stopped; it is {found.status}",
                    provider=self.provider_type,
                    details={"status": str(found.status)},
                )
            zone = found.scope or ""
            new = ResourceSpec(**{**spec.__dict__, "name": found.name, "placement": zone})
            self._check_fits(conn, config["zones"][zone], zone, new, replacing=provider_id)
            conn.execute(
                "UPDATE resources SET spec = ? WHERE cloud = ? AND id = ?", (_spec_json(new), self.cloud, provider_id)
            )
            return self._row(conn, provider_id)

    def delete(self, provider_id: str) -> Resource:
        with self._call("delete") as (conn, _config):
            self._row(conn, provider_id)
            return self._set_status(conn, provider_id, Status.DELETED)

    def metrics(self, provider_id: str | None = None, since: datetime | None = None) -> list[Metric]:
        with self._call("metrics") as (conn, _config):
            calls = self._calls(conn)
            targets = [self._row(conn, provider_id)] if provider_id else self._live(conn)
        at = datetime.fromtimestamp(1767225600 + calls, UTC)
        out = []
        for r in targets:
            running = r.status == Status.RUNNING
            seed = int(hashlib.sha256(f"{r.provider_id}/{calls}".encode()).hexdigest()[:4], 16)
            out.append(
                Metric("cpu_utilisation", Decimal(seed % 101) if running else Decimal(0), "percent", at, r.provider_id)
            )
            for model, count in sorted(r.spec.gpus_by_model.items()):
                out.append(
                    Metric(
                        "gpu_utilisation",
                        Decimal((seed // 7) % 101) if running else Decimal(0),
                        "percent",
                        at,
                        r.provider_id,
                        {"model": model, "count": str(count)},
                    )
                )
        return out


def _sum(resources: list[Resource], dim: str) -> Decimal:
    return sum((Decimal(getattr(r.spec, dim)) for r in resources), Decimal(0))


def _sum_gpu(resources: list[Resource], model: str) -> Decimal:
    return Decimal(sum(r.spec.gpus_by_model.get(model, 0) for r in resources))
