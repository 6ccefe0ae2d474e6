"""Cloud accounts: registering them (credentials sealed), reading them (never the credentials),
building their connectors, and probing them (health, latency, alerts).

Who reaches an account: platform staff every account; a tenant's users only their tenant's own
accounts (anything else answers NotFound). A connector is built from a ``Connection`` read in a
short read transaction and used outside any transaction, so a slow provider never holds a lock.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors import registry
from connectors.base import Connector
from connectors.errors import ConnectorError, UnknownProvider, Unreachable
from engine import audit, clock
from engine.domains.resources import secrets
from engine.domains.resources.endpoints import check_tenant_endpoint
from engine.domains.resources.models import PLATFORM_OWNER, AccountAlert, CloudAccount
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import Tenant
from engine.principal import Principal
from engine.tenancy.access import PermissionDenied

if TYPE_CHECKING:
    from engine.core import Engine

log = logging.getLogger("aicmp.resources")

SIMULATOR_STATE = "simulator.sqlite3"  # in var/: the embedded default's simulated clouds
MAX_OPTIONS_BYTES = 4096
MAX_SECRET_CHARS = 8192
RESERVED_OPTIONS = frozenset({"state_path"})  # set by the platform, never by a caller
HOST_LOCAL = frozenset({"nvml"})  # reads the platform's own host: platform accounts only
HEALTH = ("unknown", "up", "degraded", "down")


def field_error(name: str, message: str) -> InvalidInput:
    return InvalidInput(f"{name}: {message}", errors=[{"field": name, "message": message}])


def _text(value: Any, name: str, max_len: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_len:
        raise field_error(name, f"{'non-empty ' if required else ''}text of at most {max_len} characters")
    return value.strip() or None


# -- connecting -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Connection:
    """What building an account's connector takes, credentials opened (never printed)."""

    account_id: str
    tenant_id: str | None
    name: str
    provider_type: str
    endpoint: str | None
    region: str | None
    options: dict[str, Any]
    credentials: dict[str, Any] = field(repr=False)
    refused: str | None = None  # why the endpoint may not be called now (a tenant's, resolving inward)


def runtime_options(engine: Engine, provider_type: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options a connector is built with: the account's, plus what only the platform sets."""
    out = dict(options)
    if provider_type == "simulator":
        out["state_path"] = str(engine.settings.var_dir / SIMULATOR_STATE)
    return out


def prepare_simulated_cloud(engine: Engine, provider_type: str, endpoint: str | None,
                            credentials: dict[str, Any]) -> None:
    """Registering a simulator account creates its simulated cloud (default zones, the given api
    key) in var/ when none of that name exists yet: the embedded default needs no other set-up."""
    if provider_type != "simulator" or not endpoint:
        return
    from connectors import simulator

    try:
        simulator.ensure(engine.settings.var_dir / SIMULATOR_STATE, endpoint.removeprefix(simulator.SCHEME),
                         api_key=str(credentials.get("api_key", "")))
    except ValueError as exc:
        raise field_error("endpoint", f"{simulator.SCHEME}<cloud>: {exc}") from exc


def connection(engine: Engine, account: CloudAccount) -> Connection:
    refused = None
    if account.tenant_id is not None:  # again at every use: a name may resolve elsewhere by now
        try:
            check_tenant_endpoint(account.endpoint, engine.settings.tenant_endpoint_networks)
        except InvalidInput as exc:
            refused = exc.message
    creds = engine.resources_sealer.open(account.credentials)
    return Connection(account.id, account.tenant_id, account.name, account.provider_type, account.endpoint,
                      account.region, runtime_options(engine, account.provider_type, account.options or {}), creds,
                      refused)


def connect(conn: Connection) -> Connector:
    """The account's connector; a refused endpoint is an unreachable provider (a failed probe or
    sync, the BPMN error of a connector operator), never a call."""
    if conn.refused is not None:
        raise Unreachable(conn.refused, provider=conn.provider_type)
    return registry.connect(conn.provider_type, conn.endpoint, conn.region, conn.credentials, conn.options)


# -- access -----------------------------------------------------------------------------------------

def reachable(principal: Principal) -> Any:
    """Accounts ``principal`` may see: staff all, a tenant's users their tenant's own."""
    if principal.is_platform:
        return CloudAccount.id.is_not(None)
    return CloudAccount.tenant_id == principal.tenant_id


def account_for(s: Session, principal: Principal, account_id: str, *, lock: bool = False) -> CloudAccount:
    q = select(CloudAccount).where(CloudAccount.id == account_id, reachable(principal))
    if lock:
        q = q.with_for_update()
    row = s.scalars(q).first()
    if row is None:
        raise NotFound(f"no cloud account {account_id}")
    return row


def view(account: CloudAccount, credential_fields: list[str] | None = None) -> dict[str, Any]:
    """An account as the API shows it: the credentials' field names at most, never a value."""
    return {"id": account.id, "tenant_id": account.tenant_id, "name": account.name,
            "provider_type": account.provider_type, "endpoint": account.endpoint, "region": account.region,
            "options": dict(account.options or {}), "credential_fields": credential_fields or [],
            "enabled": account.enabled, "health": account.health, "health_message": account.health_message,
            "latency_ms": account.latency_ms, "probe_failures": account.probe_failures,
            "probed_at": account.probed_at, "synced_at": account.synced_at, "sync_message": account.sync_message,
            "created_at": account.created_at, "updated_at": account.updated_at}


def _fields(engine: Engine, account: CloudAccount) -> list[str]:
    try:
        return secrets.mask(engine.resources_sealer.open(account.credentials))
    except ValueError:
        return []


# -- validating input ---------------------------------------------------------------------------------

def _provider(provider_type: Any) -> type[Connector]:
    if not isinstance(provider_type, str) or provider_type not in registry.PROVIDERS:
        raise field_error("provider_type", f"one of {', '.join(registry.provider_types())}")
    try:
        return registry.connector_class(provider_type)
    except UnknownProvider as exc:
        raise field_error("provider_type", exc.message) from exc


def _options(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
        raise field_error("options", "an object")
    reserved = sorted(RESERVED_OPTIONS & set(raw))
    if reserved:
        raise field_error("options", f"{', '.join(reserved)} is set by the platform")
    if len(json.dumps(raw, default=str)) > MAX_OPTIONS_BYTES:
        raise field_error("options", f"at most {MAX_OPTIONS_BYTES} bytes of JSON")
    return json.loads(json.dumps(raw, default=str))


def _credentials(cls: type[Connector], raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise field_error("credentials", "an object of text values")
    if any(len(v) > MAX_SECRET_CHARS for v in raw.values()):
        raise field_error("credentials", f"values of at most {MAX_SECRET_CHARS} characters")
    missing = [k for k in cls.credential_fields if not raw.get(k)]
    if missing:
        raise field_error("credentials", f"{cls.provider_type} needs {', '.join(cls.credential_fields)}; "
                                         f"missing {', '.join(missing)}")
    return dict(raw)


def _owner(s: Session, principal: Principal, tenant_id: Any) -> str | None:
    if not principal.is_platform:
        if tenant_id not in (None, principal.tenant_id):
            raise field_error("tenant_id", "you register accounts for your own tenant only")
        return principal.tenant_id
    if tenant_id is None:
        return None
    if not isinstance(tenant_id, str) or s.get(Tenant, tenant_id) is None:
        raise field_error("tenant_id", "no such tenant")
    return tenant_id


# -- changing -----------------------------------------------------------------------------------------

def create_account(engine: Engine, principal: Principal, *, name: str, provider_type: str,
                   credentials: dict[str, Any], endpoint: str | None = None, region: str | None = None,
                   options: dict[str, Any] | None = None, tenant_id: str | None = None, enabled: bool = True,
                   ip: str | None = None) -> dict[str, Any]:
    name = _text(name, "name", 200)
    cls = _provider(provider_type)
    if provider_type in HOST_LOCAL and (not principal.is_platform or tenant_id is not None):
        raise field_error("provider_type", f"{provider_type} reads the platform's own host: platform accounts only")
    endpoint = _text(endpoint, "endpoint", 500, required=cls.endpoint_required)
    region = _text(region, "region", 100, required=False)
    opts = _options(options)
    creds = _credentials(cls, credentials)
    prepare_simulated_cloud(engine, provider_type, endpoint, creds)
    sealer = engine.resources_sealer
    now = clock.now()
    try:
        with engine.db.write() as s:
            owner = _owner(s, principal, tenant_id)
            if owner is not None:
                check_tenant_endpoint(endpoint, engine.settings.tenant_endpoint_networks)
            row = CloudAccount(tenant_id=owner, owner_key=owner or PLATFORM_OWNER, name=name,
                               provider_type=provider_type, endpoint=endpoint, region=region, options=opts,
                               credentials=sealer.seal(creds), key_id=sealer.key_id, enabled=bool(enabled),
                               created_at=now, updated_at=now)
            s.add(row)
            s.flush()
            audit.record(s, action="cloud-account.create", actor=principal.username, tenant_id=owner,
                         target_type="cloud-account", target_id=row.id,
                         detail={"name": name, "provider_type": provider_type, "endpoint": endpoint, "region": region,
                                 "credential_fields": secrets.mask(creds)}, ip=ip)
            return view(row, secrets.mask(creds))
    except IntegrityError as exc:
        raise Conflict(f"an account named {name!r} exists", errors=[{"field": "name", "message": "is taken"}]) from exc


def update_account(engine: Engine, principal: Principal, account_id: str, *, name: str | None = None,
                   endpoint: str | None = None, region: str | None = None, options: dict[str, Any] | None = None,
                   credentials: dict[str, Any] | None = None, enabled: bool | None = None,
                   ip: str | None = None) -> dict[str, Any]:
    """Change what is given; ``credentials`` replaces them all (the old ones are never shown)."""
    try:
        with engine.db.write() as s:
            row = account_for(s, principal, account_id, lock=True)
            cls = _provider(row.provider_type)
            changed: dict[str, Any] = {}
            if name is not None:
                row.name = changed["name"] = _text(name, "name", 200)
            if endpoint is not None:
                row.endpoint = changed["endpoint"] = _text(endpoint, "endpoint", 500)
                if row.tenant_id is not None:
                    check_tenant_endpoint(row.endpoint, engine.settings.tenant_endpoint_networks)
            if region is not None:
                row.region = changed["region"] = _text(region, "region", 100, required=False)
            if options is not None:
                row.options = _options(options)
                changed["options"] = sorted(row.options)
            creds = None
            if credentials is not None:
                creds = _credentials(cls, credentials)
                row.credentials, row.key_id = engine.resources_sealer.seal(creds), engine.resources_sealer.key_id
                changed["credential_fields"] = secrets.mask(creds)
            if enabled is not None:
                row.enabled = changed["enabled"] = bool(enabled)
            row.updated_at = clock.now()
            s.flush()
            audit.record(s, action="cloud-account.update", actor=principal.username, tenant_id=row.tenant_id,
                         target_type="cloud-account", target_id=row.id, detail=changed, ip=ip)
            return view(row, secrets.mask(creds) if creds is not None else _fields(engine, row))
    except IntegrityError as exc:
        raise Conflict(f"an account named {name!r} exists", errors=[{"field": "name", "message": "is taken"}]) from exc


def delete_account(engine: Engine, principal: Principal, account_id: str, *, ip: str | None = None) -> None:
    """Forget an account, its pools and its resource records (the resources at the provider stay)."""
    with engine.db.write() as s:
        row = account_for(s, principal, account_id, lock=True)
        audit.record(s, action="cloud-account.delete", actor=principal.username, tenant_id=row.tenant_id,
                     target_type="cloud-account", target_id=row.id, detail={"name": row.name}, ip=ip)
        s.delete(row)


# -- reading --------------------------------------------------------------------------------------------

def list_accounts(engine: Engine, principal: Principal, *, provider_type: str | None = None,
                  health: str | None = None, tenant_id: str | None = None, offset: int = 0,
                  limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    from sqlalchemy import func

    where = [reachable(principal)]
    if provider_type:
        where.append(CloudAccount.provider_type == provider_type)
    if health:
        where.append(CloudAccount.health == health)
    if tenant_id and principal.is_platform:
        where.append(CloudAccount.tenant_id == tenant_id)
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(CloudAccount).where(*where)) or 0
        rows = s.scalars(select(CloudAccount).where(*where).order_by(CloudAccount.name, CloudAccount.id)
                         .offset(offset).limit(limit)).all()
        return [view(r, _fields(engine, r)) for r in rows], total


def get_account(engine: Engine, principal: Principal, account_id: str) -> dict[str, Any]:
    with engine.db.read() as s:
        row = account_for(s, principal, account_id)
        return view(row, _fields(engine, row))


def open_connection(engine: Engine, principal: Principal, account_id: str) -> Connection:
    with engine.db.read() as s:
        return connection(engine, account_for(s, principal, account_id))


# -- probing ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProbeOutcome:
    ok: bool
    reached: bool
    latency_ms: int | None
    message: str
    error_code: str | None = None
    version: str | None = None


def run_probe(conn: Connection) -> ProbeOutcome:
    """Probe outside any transaction; a connector error is an outcome, not an exception."""
    began = time.monotonic()
    try:
        with connect(conn) as connector:
            result = connector.probe()
    except ConnectorError as exc:
        return ProbeOutcome(False, False, round((time.monotonic() - began) * 1000), exc.message[:1000], exc.code)
    latency = result.latency_ms if result.latency_ms is not None else round((time.monotonic() - began) * 1000)
    return ProbeOutcome(result.ok, True, latency, result.message[:1000], None, result.version)


def apply_probe(s: Session, account: CloudAccount, outcome: ProbeOutcome, now: datetime) -> AccountAlert | None:
    """Record health and latency; open (or count) the account's probe alert on failure, resolve it
    on success. Returns the open alert, if any. The caller holds the account row locked."""
    account.probed_at, account.latency_ms = now, outcome.latency_ms
    account.health = "up" if outcome.ok else ("degraded" if outcome.reached else "down")
    account.health_message = outcome.message
    account.probe_failures = 0 if outcome.reached else account.probe_failures + 1
    open_alert = s.scalars(select(AccountAlert).where(AccountAlert.account_id == account.id,
                                                      AccountAlert.kind == "probe-failed",
                                                      AccountAlert.status == "open")).first()
    if outcome.reached:
        if open_alert is not None:
            open_alert.status, open_alert.resolved_at = "resolved", now
            audit.record(s, action="cloud-account.alert.resolve", actor=None, tenant_id=account.tenant_id,
                         target_type="cloud-account", target_id=account.id, detail={"alert_id": open_alert.id})
        return None
    log.warning("cloud account %s (%s) probe failed: %s %s", account.id, account.provider_type,
                outcome.error_code, outcome.message)
    if open_alert is not None:
        open_alert.occurrences += 1
        open_alert.last_seen_at, open_alert.message, open_alert.error_code = now, outcome.message, outcome.error_code
        return open_alert
    alert = AccountAlert(account_id=account.id, tenant_id=account.tenant_id, kind="probe-failed",
                         error_code=outcome.error_code, message=outcome.message or "probe failed", opened_at=now,
                         last_seen_at=now)
    s.add(alert)
    s.flush()
    audit.record(s, action="cloud-account.alert.open", actor=None, tenant_id=account.tenant_id,
                 target_type="cloud-account", target_id=account.id,
                 detail={"alert_id": alert.id, "error_code": outcome.error_code})
    return alert


def probe_account(engine: Engine, principal: Principal, account_id: str, *, ip: str | None = None) -> dict[str, Any]:
    conn = open_connection(engine, principal, account_id)
    outcome = run_probe(conn)
    with engine.db.write() as s:
        row = account_for(s, principal, account_id, lock=True)
        apply_probe(s, row, outcome, clock.now())
        audit.record(s, action="cloud-account.probe", actor=principal.username, tenant_id=row.tenant_id,
                     target_type="cloud-account", target_id=row.id,
                     detail={"health": row.health, "latency_ms": row.latency_ms, "error_code": outcome.error_code},
                     ip=ip)
        return {**view(row, secrets.mask(conn.credentials)), "version": outcome.version,
                "error_code": outcome.error_code}


def claim_due(engine: Engine, column: Any, interval_s: float, limit: int = 100) -> list[str]:
    """Enabled accounts whose ``column`` (probed_at / synced_at) is older than ``interval_s``, each
    claimed by moving the column to now: many processes may run this at once, each account goes
    to one."""
    now = clock.now()
    cutoff = now - timedelta(seconds=interval_s)
    due = or_(column.is_(None), column <= cutoff)
    taken = []
    with engine.db.write() as s:
        ids = s.scalars(select(CloudAccount.id).where(CloudAccount.enabled.is_(True), due).order_by(column)
                        .limit(limit)).all()
        for account_id in ids:
            moved = s.execute(update(CloudAccount).where(CloudAccount.id == account_id, due).values({column.key: now})
                              .execution_options(synchronize_session=False))
            if moved.rowcount == 1:
                taken.append(account_id)
    return taken


def probe_due(engine: Engine, interval_s: float) -> int:
    """The periodic probe: every enabled account not probed for ``interval_s``. Returns how many."""
    count = 0
    for account_id in claim_due(engine, CloudAccount.probed_at, interval_s):
        with engine.db.read() as s:
            row = s.get(CloudAccount, account_id)
            if row is None:
                continue
            conn = connection(engine, row)
        outcome = run_probe(conn)
        with engine.db.write() as s:
            row = s.scalars(select(CloudAccount).where(CloudAccount.id == account_id).with_for_update()).first()
            if row is not None:
                apply_probe(s, row, outcome, clock.now())
                count += 1
    return count


# -- alerts -----------------------------------------------------------------------------------------------

def alert_view(alert: AccountAlert) -> dict[str, Any]:
    return {"id": alert.id, "account_id": alert.account_id, "tenant_id": alert.tenant_id, "kind": alert.kind,
            "error_code": alert.error_code, "message": alert.message, "status": alert.status,
            "occurrences": alert.occurrences, "opened_at": alert.opened_at, "last_seen_at": alert.last_seen_at,
            "resolved_at": alert.resolved_at}


def list_alerts(engine: Engine, principal: Principal, *, status: str | None = "open", account_id: str | None = None,
                offset: int = 0, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    from sqlalchemy import func

    where = [AccountAlert.account_id == CloudAccount.id, reachable(principal)]
    if status:
        where.append(AccountAlert.status == status)
    if account_id:
        where.append(AccountAlert.account_id == account_id)
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(AccountAlert).join(CloudAccount,
                                                                           AccountAlert.account_id == CloudAccount.id)
                         .where(*where)) or 0
        rows = s.scalars(select(AccountAlert).join(CloudAccount, AccountAlert.account_id == CloudAccount.id)
                         .where(*where).order_by(AccountAlert.opened_at.desc()).offset(offset).limit(limit)).all()
        return [alert_view(a) for a in rows], total


def resolve_alert(engine: Engine, principal: Principal, alert_id: str, *, ip: str | None = None) -> dict[str, Any]:
    with engine.db.write() as s:
        alert = s.scalars(select(AccountAlert).join(CloudAccount, AccountAlert.account_id == CloudAccount.id)
                          .where(AccountAlert.id == alert_id, reachable(principal)).with_for_update()).first()
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        if alert.status != "open":
            raise Conflict("the alert is resolved already")
        alert.status, alert.resolved_at = "resolved", clock.now()
        audit.record(s, action="cloud-account.alert.resolve", actor=principal.username, tenant_id=alert.tenant_id,
                     target_type="cloud-account", target_id=alert.account_id, detail={"alert_id": alert.id}, ip=ip)
        return alert_view(alert)


def staff_only(principal: Principal) -> None:
    if not principal.is_platform:
        raise PermissionDenied("platform staff only")
