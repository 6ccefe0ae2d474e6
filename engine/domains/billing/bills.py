"""Reading bills and their lines: filters per dimension, totals by billing mode, the daily trend,
the top five per dimension, CSV; and the two changes staff make by hand (an adjustment with its
reason, closing a month).

Every function takes ``scope``: the caller's tenant, or None for platform staff (who may then
narrow to one tenant with the ``tenant_id`` filter). A row of another tenant answers as not found.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.domains.billing import ledger, money, plans, rating
from engine.domains.billing.models import Bill, BillLine
from engine.errors import NotFound

DIMENSIONS = ("tenant_id", "organization_id", "business_system_id", "provider", "resource_type", "billing_mode")
LINE_FILTERS = (*DIMENSIONS, "bill_id", "kind", "component")
CSV_COLUMNS = ("bill_id", "tenant_id", "day", "kind", "source", "resource_id", "component", "model", "spec_id",
               "plan_code", "plan_version", "billing_mode", "unit", "quantity", "amount", "organization_id",
               "business_system_id", "provider", "resource_type", "reason")


def describe_bill(bill: Bill) -> dict[str, Any]:
    return {"id": bill.id, "tenant_id": bill.tenant_id, "period": bill.period, "status": bill.status,
            "currency": bill.currency, "total": str(bill.total), "created_at": bill.created_at,
            "closed_at": bill.closed_at}


def describe_line(line: BillLine) -> dict[str, Any]:
    return {"id": line.id, "bill_id": line.bill_id, "tenant_id": line.tenant_id, "day": line.day.isoformat(),
            "kind": line.kind, "source": line.source, "resource_id": line.resource_id, "component": line.component,
            "model": line.model, "spec_id": line.spec_id, "plan_id": line.plan_id, "plan_code": line.plan_code,
            "plan_version": line.plan_version, "billing_mode": line.billing_mode, "unit": line.unit,
            "quantity": str(line.quantity), "amount": str(line.amount), "organization_id": line.organization_id,
            "business_system_id": line.business_system_id, "provider": line.provider,
            "resource_type": line.resource_type, "explanation": line.explanation, "reason": line.reason}


def _scoped(model: Any, scope: str | None, filters: dict[str, Any]) -> list[Any]:
    where = [] if scope is None else [model.tenant_id == scope]
    for name, value in filters.items():
        if value is not None and hasattr(model, name):
            where.append(getattr(model, name) == value)
    return where


def list_bills(s: Session, scope: str | None, *, offset: int, limit: int, **filters: Any
               ) -> tuple[list[dict[str, Any]], int]:
    where = _scoped(Bill, scope, {k: filters.get(k) for k in ("tenant_id", "period", "status")})
    total = s.scalar(select(func.count()).select_from(Bill).where(*where)) or 0
    rows = s.scalars(select(Bill).where(*where).order_by(Bill.period.desc(), Bill.tenant_id).offset(offset)
                     .limit(limit)).all()
    return [describe_bill(b) for b in rows], int(total)


def get_bill(s: Session, scope: str | None, bill_id: str) -> Bill:
    bill = s.get(Bill, bill_id)
    if bill is None or (scope is not None and bill.tenant_id != scope):
        raise NotFound(f"bill {bill_id} not found")
    return bill


def _line_where(scope: str | None, filters: dict[str, Any]) -> list[Any]:
    where = _scoped(BillLine, scope, {k: filters.get(k) for k in LINE_FILTERS})
    if filters.get("day_from") is not None:
        where.append(BillLine.day >= filters["day_from"])
    if filters.get("day_to") is not None:
        where.append(BillLine.day <= filters["day_to"])
    return where


def list_lines(s: Session, scope: str | None, *, offset: int, limit: int, **filters: Any
               ) -> tuple[list[dict[str, Any]], int]:
    where = _line_where(scope, filters)
    total = s.scalar(select(func.count()).select_from(BillLine).where(*where)) or 0
    rows = s.scalars(select(BillLine).where(*where).order_by(BillLine.day, BillLine.line_key).offset(offset)
                     .limit(limit)).all()
    return [describe_line(ln) for ln in rows], int(total)


def lines_csv(s: Session, scope: str | None, **filters: Any) -> str:
    """The filtered lines as CSV (one header row, amounts as written on the bill)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    q = select(BillLine).where(*_line_where(scope, filters)).order_by(BillLine.day, BillLine.line_key)
    for line in s.scalars(q.execution_options(yield_per=1000)):
        writer.writerow(["" if (v := getattr(line, c)) is None else (v.isoformat() if isinstance(v, date) else v)
                         for c in CSV_COLUMNS])
    return out.getvalue()


def _sum_by(s: Session, where: list[Any], column: Any) -> dict[str, Decimal]:
    rows = s.execute(select(column, func.sum(BillLine.amount)).where(*where).group_by(column)).all()
    return {str(k): Decimal(v or 0) for k, v in rows}


def analysis(s: Session, scope: str | None, **filters: Any) -> dict[str, Any]:
    """This month's and this year's totals by billing mode, the daily trend of the last 31 days, and
    the five largest values of each dimension this month."""
    today = clock.now().date()
    month_start, year_start = today.replace(day=1), today.replace(month=1, day=1)
    base = _line_where(scope, {k: v for k, v in filters.items() if k not in ("day_from", "day_to")})

    def totals(since: date) -> dict[str, Any]:
        by_mode = _sum_by(s, [*base, BillLine.day >= since, BillLine.day <= today], BillLine.billing_mode)
        return {"total": str(sum(by_mode.values(), Decimal(0))),
                "by_billing_mode": {k: str(v) for k, v in sorted(by_mode.items())}}

    trend_from = today - timedelta(days=30)
    trend = _sum_by(s, [*base, BillLine.day >= trend_from, BillLine.day <= today], BillLine.day)
    month = [*base, BillLine.day >= month_start, BillLine.day <= today]
    top = {}
    for name in DIMENSIONS:
        if name == "tenant_id" and scope is not None:
            continue
        column = getattr(BillLine, name)
        rows = s.execute(select(column, func.sum(BillLine.amount).label("amount")).where(*month, column.is_not(None))
                         .group_by(column).order_by(func.sum(BillLine.amount).desc(), column).limit(5)).all()
        top[name] = [{"value": v, "amount": str(Decimal(a or 0))} for v, a in rows]
    return {"currency": money.CURRENCY, "this_month": totals(month_start), "this_year": totals(year_start),
            "daily_trend": [{"day": d, "amount": str(a)} for d, a in sorted(trend.items())], "top": top}


def adjust(s: Session, bill_id: str, *, amount: Any, reason: Any, actor: str, ip: str | None = None
           ) -> dict[str, Any]:
    """An adjustment line with its reason (platform staff). On a closed bill it goes onto the
    tenant's open bill of this month, naming the bill it corrects."""
    bill = get_bill(s, None, bill_id)
    value = money.parse(amount, places=2, minimum=None)
    if value is None or value == 0:
        raise plans.field_error("amount", "a non-zero amount in CNY with at most 2 decimals")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise plans.field_error("reason", "non-empty text of at most 500 characters")
    target = bill if bill.status == "open" else ledger.bill(s, bill.tenant_id, ledger.period_of(clock.now().date()))
    key = f"adj:{uuid.uuid4()}"
    line = BillLine(bill_id=target.id, tenant_id=bill.tenant_id, day=clock.now().date(), kind="adjustment",
                    source="manual", line_key=key, target_key=key, quantity=Decimal(0), amount=value,
                    reason=reason.strip(), explanation={"corrects_bill": bill.id, "by": actor})
    s.add(line)
    s.flush()
    ledger.refresh_totals(s, {target.id})
    audit.record(s, action="billing.line.adjust", actor=actor, tenant_id=bill.tenant_id, target_type="bill_line",
                 target_id=line.id, detail={"bill_id": target.id, "corrects_bill": bill.id, "amount": str(value),
                                            "reason": line.reason}, ip=ip)
    return describe_line(line)


def close(s: Session, bill_id: str) -> dict[str, Any]:
    """Close a bill (platform staff): every open day of its month is rated and closed first."""
    bill = get_bill(s, None, bill_id)
    year, month = (int(p) for p in bill.period.split("-"))
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1))
    rating.close_month(s, bill.tenant_id, last)
    s.refresh(bill)
    return describe_bill(bill)
