"""Bills as rating writes them: the month's bill of a tenant, the bill that takes a correction, and
totals kept equal to the sum of their lines.

A closed bill never changes: a correction to one of its days goes, as an adjustment line with its
reason, onto the tenant's open bill of the current month.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine import clock
from engine.domains.billing.models import Bill, BillLine


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def bill(s: Session, tenant_id: str, period: str, *, lock: bool = False) -> Bill:
    """The tenant's bill for ``period`` (YYYY-MM), created open when missing; safe against a
    concurrent creator (the unique (tenant, period) decides, the loser reads the winner's)."""
    from engine.domains.billing.usage import insert_for

    stmt = insert_for(s)(Bill).values(id=_new_id(), tenant_id=tenant_id, period=period, status="open",
                                      currency="CNY", total=Decimal(0), created_at=clock.now())
    s.execute(stmt.on_conflict_do_nothing(index_elements=["tenant_id", "period"]))
    q = select(Bill).where(Bill.tenant_id == tenant_id, Bill.period == period).execution_options(
        populate_existing=True)
    return s.scalars(q.with_for_update() if lock else q).one()


def _new_id() -> str:
    from engine.models.base import new_id

    return new_id()


def bill_for_change(s: Session, tenant_id: str, day: date) -> Bill:
    """Where a change to ``day`` goes: that day's bill while it is open, else the current month's."""
    found = bill(s, tenant_id, period_of(day))
    if found.status == "open":
        return found
    return bill(s, tenant_id, period_of(clock.now().date()))


def refresh_totals(s: Session, bill_ids: set[str]) -> None:
    """Each bill's total := the sum of its lines (rounded lines: the sum is exact)."""
    for bill_id in sorted(bill_ids):
        total = s.scalar(select(func.coalesce(func.sum(BillLine.amount), 0)).where(BillLine.bill_id == bill_id))
        s.execute(update(Bill).where(Bill.id == bill_id).values(total=Decimal(total))
                  .execution_options(synchronize_session=False))
