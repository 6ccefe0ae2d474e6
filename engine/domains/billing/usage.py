"""Usage ingestion: CloudEvents batches in, one row per (tenant, source, id) however often sent.

An event (CloudEvents 1.0, JSON)::

    {"specversion": "1.0", "id": "evt-1", "source": "gateway-1", "type": "aicmp.usage.model",
     "time": "2026-03-02T10:00:00Z", "tenantid": "<only when a platform caller sends it>",
     "data": {"component": "input_tokens", "quantity": "1200", "model": "qwen-72b",
              "organization_id": "...", "business_system_id": "...", "provider": "...",
              "resource_type": "...", "resource_id": "...", "spec_id": "...", "value_key": "..."}}

``ingest`` checks every event, keeps the good ones and refuses each bad one with its index, field
and reason; a replayed event is counted as a duplicate and changes nothing (INSERT ... ON CONFLICT
DO NOTHING on the unique key). The days that received events get their ``usage_version`` moved in
the same transaction, which is how rating knows a day (closed or not) has usage to rate.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine import clock
from engine.domains.billing import money
from engine.domains.billing.models import BillingDay, Meter, UsageEvent
from engine.domains.billing.plans import COMPONENTS, component_problem
from engine.models import BusinessSystem, Organization, Tenant

TYPES = ("aicmp.usage.resource", "aicmp.usage.model")
MODEL_COMPONENTS = ("input_tokens", "output_tokens", "api_calls")
AGGREGATIONS = ("sum", "max", "count", "latest", "unique_count")
WINDOWS = ("hour", "day")
MAX_BATCH = 10_000
MAX_AGE = timedelta(days=400)
MAX_AHEAD = timedelta(minutes=5)
DEFAULT_METERS: dict[str, tuple[str, str, Decimal]] = {"runtime_hours": ("sum", "day", Decimal(1) / 3600)}
_TEXT = {"model": 120, "resource_id": 120, "spec_id": 36, "organization_id": 36, "business_system_id": 36,
         "provider": 64, "resource_type": 64, "value_key": 120}


_KNOWN = frozenset(COMPONENTS)  # a base component name needs no pattern match


class Refusal(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def insert_for(s: Session) -> Any:
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert


def _time(value: Any, now: datetime) -> datetime:
    if not isinstance(value, str):
        raise Refusal("time", "an RFC 3339 time with a time zone is required")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise Refusal("time", "not an RFC 3339 time") from None
    if at.tzinfo is None:
        raise Refusal("time", "the time needs a time zone")
    at = at.astimezone(UTC)
    if at > now + MAX_AHEAD:
        raise Refusal("time", "the time is in the future")
    if at < now - MAX_AGE:
        raise Refusal("time", f"the time is more than {MAX_AGE.days} days ago")
    return at


def _text(raw: dict[str, Any], name: str, limit: int, *, where: str = "data.") -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise Refusal(f"{where}{name}", f"text of 1 to {limit} characters")
    return value


def check_event(event: Any, tenant_id: str | None, now: datetime | None = None) -> dict[str, Any]:
    """The row an event becomes, or ``Refusal`` naming the field and the reason (``now``: the
    batch's clock reading, read once)."""
    if not isinstance(event, dict):
        raise Refusal("", "an event is a JSON object")
    if event.get("specversion") != "1.0":
        raise Refusal("specversion", "must be \"1.0\"")
    event_id, source = _text(event, "id", 100, where=""), _text(event, "source", 200, where="")
    if event_id is None or source is None:
        raise Refusal("id" if event_id is None else "source", "id and source are required")
    if event.get("type") not in TYPES:
        raise Refusal("type", f"one of {', '.join(TYPES)}")
    at = _time(event.get("time"), now or clock.now())
    owner = event.get("tenantid")
    if tenant_id is not None and owner not in (None, tenant_id):
        raise Refusal("tenantid", "an event of another tenant")
    owner = owner if tenant_id is None else tenant_id
    if not isinstance(owner, str) or not owner:
        raise Refusal("tenantid", "the tenant the usage belongs to is required")
    data = event.get("data")
    if not isinstance(data, dict):
        raise Refusal("data", "an object with component and quantity")
    component = data.get("component")
    known = isinstance(component, str) and component in _KNOWN
    if not known and ((problem := component_problem(component)) or ":" in component):
        raise Refusal("data.component", problem or "name the model in data.model, not in the component")
    quantity = money.parse(data.get("quantity"), places=6)
    if quantity is None or quantity > Decimal("1e15"):
        raise Refusal("data.quantity", "a non-negative number with at most 6 decimals")
    row = {"tenant_id": owner, "source": source, "event_id": event_id, "type": event["type"], "component": component,
           "quantity": quantity, "occurred_at": at, "occurred_day": at.date(), "occurred_hour": at.hour}
    for name, limit in _TEXT.items():
        row[name] = _text(data, name, limit)
    if event["type"] == "aicmp.usage.model" and (component not in MODEL_COMPONENTS or not row["model"]):
        raise Refusal("data.model", f"a model-service event counts {', '.join(MODEL_COMPONENTS)} of a named model")
    return row


def _owned(s: Session, rows: list[tuple[int, dict[str, Any]]], model: Any, field: str) -> set[int]:
    """Indexes of rows naming a ``model`` id that is not of the row's tenant."""
    wanted = {r[field] for _i, r in rows if r[field]}
    if not wanted:
        return set()
    owner = dict(s.execute(select(model.id, model.tenant_id).where(model.id.in_(wanted))).all())
    return {i for i, r in rows if r[field] and owner.get(r[field]) != r["tenant_id"]}


def ingest(s: Session, events: list[Any], *, tenant_id: str | None) -> dict[str, Any]:
    """Store a batch in the caller's transaction; ``tenant_id`` is the caller's tenant (None: a platform
    caller or the queue, whose events name their tenant). Returns accepted, duplicates, rejected."""
    rejected: list[dict[str, Any]] = []
    good: list[tuple[int, dict[str, Any]]] = []
    now = clock.now()
    for index, event in enumerate(events):
        try:
            good.append((index, check_event(event, tenant_id, now)))
        except Refusal as refusal:
            rejected.append({"index": index, "field": refusal.field, "reason": refusal.reason})
    if good and tenant_id is None:
        known = set(s.scalars(select(Tenant.id).where(Tenant.id.in_({r["tenant_id"] for _i, r in good}))))
        bad = {i for i, r in good if r["tenant_id"] not in known}
        rejected += [{"index": i, "field": "tenantid", "reason": "no such tenant"} for i in sorted(bad)]
        good = [(i, r) for i, r in good if i not in bad]
    for model, field in ((Organization, "organization_id"), (BusinessSystem, "business_system_id")):
        bad = _owned(s, good, model, field)
        rejected += [{"index": i, "field": f"data.{field}", "reason": "not of this tenant"} for i in sorted(bad)]
        good = [(i, r) for i, r in good if i not in bad]
    accepted = 0
    if good:
        insert = insert_for(s)
        table = UsageEvent.__table__  # a Core insert: the ORM's bulk bookkeeping would double the cost
        stmt = insert(table).on_conflict_do_nothing(index_elements=["tenant_id", "source", "event_id"])
        now = clock.now()
        rows = [{**r, "received_at": now} for _i, r in good]
        if s.get_bind().dialect.name == "postgresql":
            inserted = s.execute(_PG_INSERT, {c: [r[c] for r in rows] for c, _t in _PG_COLUMNS}).all()
        else:
            inserted = s.execute(stmt.returning(table.c.tenant_id, table.c.occurred_day), rows).all()
        accepted = len(inserted)
        touch_days(s, Counter((t, d) for t, d in inserted))
    rejected.sort(key=lambda r: r["index"])
    return {"accepted": accepted, "duplicates": len(good) - accepted, "rejected": rejected}


# PostgreSQL: one INSERT ... SELECT FROM unnest(<one array per column>): a multi-row VALUES with
# RETURNING makes a statement per page whose placeholders psycopg parses anew each time (5x slower)
_PG_COLUMNS = (("tenant_id", "varchar"), ("source", "varchar"), ("event_id", "varchar"), ("type", "varchar"),
               ("component", "varchar"), ("quantity", "numeric"), ("occurred_at", "timestamptz"),
               ("occurred_day", "date"), ("occurred_hour", "smallint"), ("model", "varchar"),
               ("resource_id", "varchar"), ("spec_id", "varchar"), ("value_key", "varchar"),
               ("organization_id", "varchar"), ("business_system_id", "varchar"), ("provider", "varchar"),
               ("resource_type", "varchar"), ("received_at", "timestamptz"))
_PG_NAMES = ", ".join(c for c, _t in _PG_COLUMNS)
_PG_ARRAYS = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in _PG_COLUMNS)
_PG_INSERT = text(f"INSERT INTO usage_events ({_PG_NAMES}) SELECT * FROM unnest({_PG_ARRAYS}) "  # noqa: S608
                  "ON CONFLICT (tenant_id, source, event_id) DO NOTHING RETURNING tenant_id, occurred_day")


def touch_days(s: Session, days: Counter) -> None:
    """Move ``usage_version`` of each (tenant, day): rating sees the day has usage it has not rated."""
    if not days:
        return
    insert = insert_for(s)
    for (tenant_id, day), _n in sorted(days.items()):
        stmt = insert(BillingDay).values(tenant_id=tenant_id, day=day, usage_version=1, rated_version=0)
        s.execute(stmt.on_conflict_do_update(index_elements=["tenant_id", "day"],
                                             set_={"usage_version": BillingDay.usage_version + 1}))


# -- meters -------------------------------------------------------------------------------------------

def meter_for(meters: dict[str, Meter], component: str) -> tuple[str, str, Decimal]:
    """(aggregation, window, factor) of a component: its meter, else the default (a sum per day)."""
    row = meters.get(component)
    if row is not None:
        return row.aggregation, row.window, Decimal(row.factor)
    return DEFAULT_METERS.get(component, ("sum", "day", Decimal(1)))


def set_meter(s: Session, component: str, raw: dict[str, Any]) -> Meter:
    from engine.domains.billing.plans import field_error

    if problem := component_problem(component):
        raise field_error("component", problem)
    if raw.get("aggregation") not in AGGREGATIONS:
        raise field_error("aggregation", f"one of {', '.join(AGGREGATIONS)}")
    window = raw.get("window", "day")
    if window not in WINDOWS:
        raise field_error("window", f"one of {', '.join(WINDOWS)}")
    factor = money.parse(raw.get("factor", "1"), places=12)
    if factor is None or factor == 0:
        raise field_error("factor", "a positive number with at most 12 decimals")
    row = s.get(Meter, component) or Meter(component=component)
    row.aggregation, row.window, row.factor, row.updated_at = raw["aggregation"], window, factor, clock.now()
    s.add(row)
    s.flush()
    return row


def describe_meter(component: str, meter: tuple[str, str, Decimal]) -> dict[str, Any]:
    return {"component": component, "aggregation": meter[0], "window": meter[1], "factor": str(meter[2])}
