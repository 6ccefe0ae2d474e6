"""Synchronising an account: its capacity into pools and its resources into the inventory.

The connector is called outside any transaction (a slow provider holds no lock); what it reported
is then written in one transaction with the account row locked, so two syncs of one account
(a periodic one and one on demand) apply one after the other, each complete. A sync that fails
at the provider changes no figure and records why on the account.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from connectors.base import Capacity, Resource
from connectors.errors import ConnectorError
from engine import audit, clock
from engine.domains.resources import accounts, inventory, pools
from engine.domains.resources.models import CloudAccount
from engine.errors import EngineError
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.core import Engine

log = logging.getLogger("aicmp.resources")


class SyncFailed(EngineError):
    """The provider did not answer the sync (``errors`` names the connector error's code)."""

    status = 502
    code = "provider_error"


def _fetch(conn: accounts.Connection, capacity: bool, resources: bool) -> tuple[list[Capacity], list[Resource]]:
    with accounts.connect(conn) as connector:
        caps = connector.capacity() if capacity else []
        found = connector.list_resources() if resources else []
    return caps, found


def _apply(engine: Engine, account_id: str, caps: list[Capacity] | None, found: list[Resource] | None,
           error: ConnectorError | None, actor: str | None, ip: str | None) -> dict[str, Any]:
    now = clock.now()
    with engine.db.write() as s:
        row = s.scalars(select(CloudAccount).where(CloudAccount.id == account_id).with_for_update()).first()
        if row is None:
            return {"account_id": account_id, "pools": [], "resources": {}, "error": "account deleted meanwhile"}
        result: dict[str, Any] = {"account_id": account_id, "pools": [], "resources": {}}
        if error is not None:
            row.sync_message = f"{error.code}: {error.message}"[:1000]
            result["error"] = error.as_dict()
        else:
            if caps is not None:
                result["pools"] = pools.apply_capacity(s, row, caps, now)
            if found is not None:
                result["resources"] = inventory.apply_resources(s, row, found, now)
            row.synced_at, row.sync_message = now, ""
        audit.record(s, action="cloud-account.sync", actor=actor, tenant_id=row.tenant_id, target_type="cloud-account",
                     target_id=row.id, detail={"pools": len(result["pools"]), "resources": result["resources"],
                                               "error_code": error.code if error else None}, ip=ip)
        return result


def sync_account(engine: Engine, principal: Principal, account_id: str, *, capacity: bool = True,
                 resources: bool = True, ip: str | None = None) -> dict[str, Any]:
    """On demand: pools from ``capacity()``, inventory (import) from ``list_resources()``. Raises
    ``SyncFailed`` (409) naming the connector error when the provider did not answer."""
    conn = accounts.open_connection(engine, principal, account_id)
    try:
        caps, found = _fetch(conn, capacity, resources)
    except ConnectorError as exc:
        _apply(engine, account_id, None, None, exc, principal.username, ip)
        raise SyncFailed(f"{exc.code}: {exc.message}", errors=[{"field": "account", "code": exc.code,
                                                                "message": exc.message}]) from exc
    return _apply(engine, account_id, caps if capacity else None, found if resources else None, None,
                  principal.username, ip)


def sync_due(engine: Engine, interval_s: float) -> int:
    """The periodic sync: every enabled account not synchronised for ``interval_s``."""
    done = 0
    for account_id in accounts.claim_due(engine, CloudAccount.synced_at, interval_s):
        with engine.db.read() as s:
            row = s.get(CloudAccount, account_id)
            if row is None:
                continue
            conn = accounts.connection(engine, row)
        try:
            caps, found = _fetch(conn, True, True)
        except ConnectorError as exc:
            log.warning("cloud account %s sync failed: %s %s", account_id, exc.code, exc.message)
            _apply(engine, account_id, None, None, exc, None, None)
            continue
        _apply(engine, account_id, caps, found, None, None, None)
        done += 1
    return done
