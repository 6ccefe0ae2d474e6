"""The resources domain's implementation of ``tasks.ports.ResourcesPort``, for one write transaction.

Every call is bound to the calling instance (``instance_scope``). A tenant's process reaches its
own tenant's accounts and the resources assigned to its tenant; a platform account (no tenant)
only from the platform's own processes (``scope.internal``), so a process a tenant deployed
cannot spend the platform's cloud. Everything else answers as unknown. Resources a process creates
belong to the instance's tenant.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import Resource, ResourceSpec, Status
from engine import clock
from engine.domains.resources import accounts, inventory, pools
from engine.domains.resources.models import CloudAccount, CloudResource
from engine.ports import Port, instance_scope
from tasks.ports import Refused


def _account(s: Session, account_id: Any, *, lock: bool = False) -> CloudAccount:
    scope = instance_scope()
    unknown = Refused("UNKNOWN_ACCOUNT", f"no cloud account {account_id!r}")
    if not isinstance(account_id, str) or not account_id:
        raise unknown
    q = select(CloudAccount).where(CloudAccount.id == account_id)
    if lock:
        q = q.with_for_update()
    row = s.scalars(q).first()
    if row is None or not (row.tenant_id == scope.tenant_id or (row.tenant_id is None and scope.internal)):
        raise unknown
    if not row.enabled:
        raise Refused("ACCOUNT_DISABLED", f"cloud account {row.name} is disabled")
    return row


def _resource(s: Session, resource_id: Any) -> CloudResource:
    scope = instance_scope()
    row = None
    if isinstance(resource_id, str) and resource_id:
        row = s.scalars(select(CloudResource).where(CloudResource.id == resource_id,
                                                    CloudResource.tenant_id == scope.tenant_id)
                        .with_for_update()).first()
    if row is None:
        raise Refused("UNKNOWN_RESOURCE", f"no resource {resource_id!r}")
    return row


def _from_dict(data: dict[str, Any]) -> Resource:
    try:
        status = Status(data.get("status", "unknown"))
        created = data.get("created_at")
        return Resource(provider_id=str(data["provider_id"]), name=str(data.get("name") or data["provider_id"]),
                        status=status, spec=ResourceSpec.from_dict(data.get("spec") or {"name": data.get("name")}),
                        client_token=data.get("client_token"), scope=data.get("scope"),
                        addresses=tuple(data.get("addresses") or ()),
                        created_at=datetime.fromisoformat(created) if isinstance(created, str) else None,
                        details=dict(data.get("details") or {}))
    except (KeyError, ValueError) as exc:
        raise Refused("INVALID_RESOURCE", f"not a connector resource: {exc}") from exc


def _summary(row: CloudResource) -> dict[str, Any]:
    return {"resource_id": row.id, "account_id": row.account_id, "provider_id": row.provider_id,
            "client_token": row.client_token, "status": row.status, "pool_id": row.pool_id, "name": row.name,
            "vcpu": row.vcpu, "memory_gib": Decimal(row.memory_gib), "gpus_by_model": dict(row.gpus_by_model or {})}


class Resources(Port):
    """Built per transaction by the factory ``install`` registers (which hands it the engine: its
    settings and credentials sealer)."""

    def __init__(self, ports: Any, engine: Any) -> None:
        super().__init__(ports)
        self._engine_ref = engine

    def _engine(self) -> Any:
        return self._engine_ref

    def connection(self, account_id: str) -> dict[str, Any]:
        with self._ports.session() as s:
            conn = accounts.connection(self._engine(), _account(s, account_id))
        return {"account_id": conn.account_id, "provider_type": conn.provider_type, "endpoint": conn.endpoint,
                "region": conn.region, "options": conn.options, "credentials": conn.credentials}

    def record(self, account_id: str, resource: dict[str, Any], *, origin: str = "created") -> dict[str, Any]:
        found = _from_dict(resource)
        with self._ports.session() as s:
            account = _account(s, account_id, lock=True)
            existing = s.scalars(select(CloudResource).where(CloudResource.account_id == account.id,
                                                             CloudResource.provider_id == found.provider_id)).first()
            if existing is not None and existing.tenant_id not in (None, instance_scope().tenant_id):
                raise Refused("UNKNOWN_RESOURCE", f"resource {found.provider_id} belongs elsewhere")
            row = inventory.record(s, account, found, clock.now(), tenant_id=instance_scope().tenant_id,
                                   origin=origin if origin in ("created", "imported") else "created")
            if row.tenant_id is None:
                row.tenant_id = instance_scope().tenant_id
            return _summary(row)

    def target(self, resource_id: str) -> dict[str, Any]:
        with self._ports.session() as s:
            row = _resource(s, resource_id)
            _account(s, row.account_id)
            return _summary(row)

    def mark_deleted(self, resource_id: str) -> dict[str, Any]:
        with self._ports.session() as s:
            row = _resource(s, resource_id)
            row.status, row.updated_at = str(Status.DELETED), clock.now()
            return _summary(row)

    def probe(self, account_id: str) -> dict[str, Any]:
        engine = self._engine()
        with self._ports.session() as s:
            account = _account(s, account_id, lock=True)
            outcome = accounts.run_probe(accounts.connection(engine, account))
            accounts.apply_probe(s, account, outcome, clock.now())
            return {"account_id": account.id, "health": account.health, "latency_ms": account.latency_ms,
                    "error_code": outcome.error_code, "message": outcome.message}

    def sync(self, account_id: str) -> dict[str, Any]:
        from connectors.errors import ConnectorError

        engine = self._engine()
        with self._ports.session() as s:
            account = _account(s, account_id, lock=True)
            try:
                with accounts.connect(accounts.connection(engine, account)) as connector:
                    caps, found = connector.capacity(), connector.list_resources()
            except ConnectorError as exc:
                account.sync_message = f"{exc.code}: {exc.message}"[:1000]
                raise Refused(exc.code, exc.message) from exc
            now = clock.now()
            synced = pools.apply_capacity(s, account, caps, now)
            counts = inventory.apply_resources(s, account, found, now)
            account.synced_at, account.sync_message = now, ""
            return {"account_id": account.id, "pools": synced, "resources": counts}
