"""Subscription terms: a unit of an order line bought for ``term_months`` expires that many calendar
months after it started running, and its ``subscription_expiry`` process then terminates it.

``Provisioning.running`` (the port) sets the unit's ``expires_at`` and notes the unit on the port;
``start_after_running`` (a save hook) starts one ``subscription_expiry`` per noted unit once the
step has committed (a start inside the step's transaction would nest one write in another). The
process's business key is the id its termination request will have, so the ``termination`` it calls
reaches that request (``engine.domains.resource_actions``).

The start claims the unit in its own transaction (``expiry_key`` from null to that business key),
so a unit never gets two. A start that failed after the step's commit leaves the key null, and
``sweep`` (periodic work) starts the expiry later: a term always ends.
"""

from __future__ import annotations

import logging
from calendar import monthrange
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.domains.provisioning.models import ProvisioningUnit
from engine.models.base import new_id
from engine.ports import bound_ports

if TYPE_CHECKING:
    from engine.core import Engine

log = logging.getLogger("aicmp.provisioning")

PROCESS_KEY = "subscription_expiry"
SWEEP_INTERVAL_S = 300.0
SWEEP_GRACE_S = 300.0  # a unit younger than this may still get its expiry from the step's own start


@dataclass(frozen=True)
class Expiring:
    """A unit that started running with a term, in the step that started it."""

    tenant_id: str
    unit_id: str
    expires_at: datetime


def add_months(when: datetime, months: int) -> datetime:
    """``months`` calendar months after ``when``: the same day, or the month's last where it is
    shorter (31 January + 1 month = 28 or 29 February)."""
    years, month0 = divmod(when.month - 1 + months, 12)
    year = when.year + years
    return when.replace(year=year, month=month0 + 1, day=min(when.day, monthrange(year, month0 + 1)[1]))


class _Scheduled(Exception):  # noqa: N818 - control flow: the unit has its expiry already
    pass


def _claim(unit: Expiring, request_id: str) -> Callable[[Session, Any, Any], None]:
    """The start's check: take the unit for this expiry, in the start's transaction."""

    def check(s: Session, _definition: Any, _bound: Any) -> None:
        claimed = s.execute(update(ProvisioningUnit).where(
            ProvisioningUnit.id == unit.unit_id, ProvisioningUnit.tenant_id == unit.tenant_id,
            ProvisioningUnit.expiry_key.is_(None)).values(expiry_key=request_id)
            .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            raise _Scheduled(unit.unit_id)

    return check


def schedule(engine: Engine, due: list[Expiring]) -> list[str]:
    """Start each unit's ``subscription_expiry`` unless it has one; the instance ids. A start that
    fails is logged and audited (the unit keeps ``expires_at`` and no ``expiry_key``: the sweep
    tries again)."""
    started = []
    for unit in due:
        request_id = new_id()  # the termination request the expiry will open, when it is due
        try:
            row = engine.runtime.start(PROCESS_KEY, tenant_id=unit.tenant_id, business_key=request_id,
                                       variables={"unit_id": unit.unit_id, "request_id": request_id,
                                                  "expires_at": unit.expires_at.isoformat()},
                                       check=_claim(unit, request_id))
        except _Scheduled:
            log.info("unit %s: its subscription expiry is scheduled already", unit.unit_id)
            continue
        except Exception as exc:  # noqa: BLE001 - the unit runs, committed; never hide that behind this
            log.warning("unit %s: subscription expiry not started: %s", unit.unit_id, exc)
            with engine.db.write() as s:
                audit.record(s, action="provisioning.expiry_unscheduled", actor=None, tenant_id=unit.tenant_id,
                             target_type="provisioning_unit", target_id=unit.unit_id,
                             detail={"expires_at": unit.expires_at.isoformat(), "error": str(exc)[:500]})
            continue
        started.append(row.id)
    return started


def sweep(engine: Engine, *, older_than_s: float = SWEEP_GRACE_S, limit: int = 100) -> list[str]:
    """Start the expiry of running units with a term and none yet (their start after the commit
    failed), once ``older_than_s`` have passed since they changed (the usual start has run by
    then). Safe in many workers at once: each start claims its unit. The instance ids."""
    cutoff = clock.now() - timedelta(seconds=older_than_s)
    with engine.db.read() as s:
        due = [Expiring(tenant_id, unit_id, expires_at) for unit_id, tenant_id, expires_at in s.execute(
            select(ProvisioningUnit.id, ProvisioningUnit.tenant_id, ProvisioningUnit.expires_at)
            .where(ProvisioningUnit.status == "running", ProvisioningUnit.expires_at.is_not(None),
                   ProvisioningUnit.expiry_key.is_(None), ProvisioningUnit.updated_at <= cutoff)
            .order_by(ProvisioningUnit.updated_at).limit(limit))]
    return schedule(engine, due)


def start_after_running(engine: Engine) -> Callable[[Session, Any], None]:
    """The save hook: the units the step's ``provisioning`` port saw start with a term get their
    expiry process after the commit."""

    def hook(_s: Session, loaded: Any) -> None:
        ports = bound_ports()
        port = ports.__dict__.get("provisioning") if ports is not None else None
        noted: list[Expiring] | None = getattr(port, "expiring", None)
        if not noted:
            return
        due = list(noted)
        noted.clear()
        loaded.after_commit.append(lambda: schedule(engine, due))

    hook.subscription_expiry_hook = True  # type: ignore[attr-defined]
    return hook
