"""The ``billing_daily`` process: one running instance per tenant that has anything to bill.

It waits until five minutes into each UTC day, then ``billing/rate`` rates the day before (and any
earlier day that received late usage) and ``billing/close_day`` closes it; a late timer catches up a
day at a time. ``ensure_daily`` starts it for tenants that have none (after usage arrives); it is
an internal process, never started by a request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from engine import clock
from engine.domains.billing.ports import RUN_AT
from engine.errors import NotFound
from engine.models import ProcessInstance, Tenant

if TYPE_CHECKING:
    from engine.core import Engine

PROCESS_KEY = "billing_daily"
INTERNAL_PROCESSES = (PROCESS_KEY,)
log = logging.getLogger(__name__)


def first_variables() -> dict[str, str]:
    """Start by closing yesterday, as soon as the timer is read."""
    today = clock.now().astimezone(UTC).date()
    return {"day": (today - timedelta(days=1)).isoformat(),
            "next_run": datetime.combine(today, RUN_AT, tzinfo=UTC).isoformat()}


def ensure_daily(engine: Engine, tenant_ids: Iterable[str]) -> list[str]:
    """Start ``billing_daily`` for each (existing) tenant without a running one; the ids started."""
    wanted = sorted({t for t in tenant_ids if isinstance(t, str) and t})
    if not wanted:
        return []
    with engine.db.read() as s:
        wanted = sorted(s.scalars(select(Tenant.id).where(Tenant.id.in_(wanted))))
        have = set(s.scalars(select(ProcessInstance.tenant_id).where(
            ProcessInstance.process_key == PROCESS_KEY, ProcessInstance.status == "running",
            ProcessInstance.tenant_id.in_(wanted))))
    started = []
    for tenant_id in wanted:
        if tenant_id in have:
            continue
        try:
            row = engine.runtime.start(PROCESS_KEY, tenant_id=tenant_id, business_key=f"billing:{tenant_id}",
                                       variables=first_variables())
        except NotFound:
            log.warning("billing_daily is not deployed: usage of %s waits until it is", tenant_id)
            continue
        started.append(row.id)
    return started
