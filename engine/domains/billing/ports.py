"""The ``billing`` port (``tasks.ports.BillingPort``) for one process instance of one tenant.

Only processes the platform itself starts (``Runtime.internal_keys``: the daily rating, and the
provisioning and termination flows that will call ``billing/start`` and ``billing/stop``) may rate
or open and close rated resources; anything else is refused. Every call works on the instance's
tenant only, in a SAVEPOINT of the step's transaction (``engine.ports``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from engine.domains.billing import orders, rating, resources
from engine.errors import EngineError
from engine.ports import Port, instance_scope
from tasks.ports import Refused

RUN_AT = time(0, 5)  # the daily rating runs five minutes into the next UTC day


def _tenant() -> str:
    scope = instance_scope()
    if not scope.internal:
        raise Refused("NOT_PERMITTED", f"process {scope.process_key!r} may not rate or bill: only the platform's "
                                       "own processes do")
    return scope.tenant_id


def _day(value: Any) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise Refused("INVALID_DAY", f"{value!r} is not a day (YYYY-MM-DD)") from None


def _instant(value: Any, field: str) -> datetime:
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Refused("INVALID_TIME", f"{field} {value!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise Refused("INVALID_TIME", f"{field} needs a time zone")
    return at.astimezone(UTC)


def next_run(day: date) -> datetime:
    """When the day after ``day`` is closed: five minutes into the day after it."""
    return datetime.combine(day + timedelta(days=2), RUN_AT, tzinfo=UTC)


class Billing(Port):
    def rate(self, day: str) -> dict[str, Any]:
        tenant_id, until = _tenant(), _day(day)
        with self._ports.session() as s:
            days = sorted(set(rating.due_days(s, tenant_id, until)) | {until})
            results = [rating.rate_day(s, tenant_id, d) for d in days]
        return {"days": [r["day"] for r in results], "lines": sum(r["lines"] for r in results),
                "adjusted": sum(r["adjusted"] for r in results)}

    def close_day(self, day: str) -> dict[str, Any]:
        tenant_id, which = _tenant(), _day(day)
        with self._ports.session() as s:
            result = rating.close_day(s, tenant_id, which)
        following = which + timedelta(days=1)
        return {"day": which.isoformat(), "lines": result["lines"], "bill": result.get("bill"),
                "next_day": following.isoformat(), "next_run": next_run(which).isoformat()}

    def price_order(self, application_id: str) -> dict[str, Any]:
        try:
            with self._ports.session() as s:
                return orders.price_order(s, _tenant(), application_id)
        except EngineError as exc:
            raise Refused("BILLING_REFUSED", exc.message) from exc

    started: set[str]  # tenants that opened a rated resource in this transaction (hooks.daily_after_start)

    def start(self, resource_ref: str, started_at: str, **fields: Any) -> dict[str, Any]:
        tenant_id = _tenant()
        try:
            with self._ports.session() as s:
                row, created = resources.start(s, tenant_id, resource_ref=resource_ref,
                                               started_at=_instant(started_at, "started_at"), **fields)
            self.__dict__.setdefault("started", set()).add(tenant_id)
            return {"rated_resource_id": row.id, "plan_id": row.plan_id, "created": created}
        except EngineError as exc:
            raise Refused("BILLING_REFUSED", exc.message) from exc

    def stop(self, resource_ref: str, stopped_at: str) -> dict[str, Any]:
        tenant_id = _tenant()
        try:
            with self._ports.session() as s:
                return resources.stop(s, tenant_id, resource_ref=resource_ref,
                                      stopped_at=_instant(stopped_at, "stopped_at"))
        except EngineError as exc:
            raise Refused("BILLING_REFUSED", exc.message) from exc
