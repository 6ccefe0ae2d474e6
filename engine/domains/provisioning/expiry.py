"""Subscription terms: a unit of an order line bought for ``term_months`` expires that many calendar
months after it started running, and its ``subscription_expiry`` process then terminates it.

``Provisioning.running`` (the port) sets the unit's ``expires_at`` and notes the unit on the port;
``start_after_running`` (a save hook) starts one ``subscription_expiry`` per noted unit once the
step has committed (a start inside the step's transaction would nest one write in another). The
process's business key is the id its termination request will have, so the ``termination`` it calls
reaches that request (``engine.domains.resource_actions``).
"""

from __future__ import annotations

import logging
from calendar import monthrange
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine import audit
from engine.models.base import new_id
from engine.ports import bound_ports

if TYPE_CHECKING:
    from engine.core import Engine

log = logging.getLogger("aicmp.provisioning")

PROCESS_KEY = "subscription_expiry"


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


def schedule(engine: Engine, due: list[Expiring]) -> list[str]:
    """Start each unit's ``subscription_expiry``; the instance ids. A start that fails is logged
    and audited (the unit keeps ``expires_at``, so operations see which term was not scheduled)."""
    started = []
    for unit in due:
        request_id = new_id()  # the termination request the expiry will open, when it is due
        try:
            row = engine.runtime.start(PROCESS_KEY, tenant_id=unit.tenant_id, business_key=request_id,
                                       variables={"unit_id": unit.unit_id, "request_id": request_id,
                                                  "expires_at": unit.expires_at.isoformat()})
        except Exception as exc:  # noqa: BLE001 - the unit runs, committed; never hide that behind this
            log.warning("unit %s: subscription expiry not started: %s", unit.unit_id, exc)
            with engine.db.write() as s:
                audit.record(s, action="provisioning.expiry_unscheduled", actor=None, tenant_id=unit.tenant_id,
                             target_type="provisioning_unit", target_id=unit.unit_id,
                             detail={"expires_at": unit.expires_at.isoformat(), "error": str(exc)[:500]})
            continue
        started.append(row.id)
    return started


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
