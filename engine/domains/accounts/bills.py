"""A small read of the billing domain's closed bills (``bills``, ``bill_lines``: revision 0006).

Billing's service offers no call that hands a bill to another domain, so accounts and vouchers
read the two tables here, through lightweight table clauses (no import of billing's models: this
module registers nothing on the metadata). Only what a charge or a redemption needs: a closed
bill of one tenant, its total, its period, and what its lines add up to per product, spec or
component. Bills are never written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import column, func, or_, select, table
from sqlalchemy.orm import Session

from engine.errors import Conflict, NotFound

BILLS = table("bills", column("id"), column("tenant_id"), column("period"), column("status"), column("currency"),
              column("total"), column("closed_at"))
LINES = table("bill_lines", column("bill_id"), column("tenant_id"), column("amount"), column("component"),
              column("plan_code"), column("spec_id"))


@dataclass(frozen=True)
class ClosedBill:
    id: str
    tenant_id: str
    period: str  # YYYY-MM
    currency: str
    total: Decimal


def closed_bill(s: Session, tenant_id: str, bill_id: str) -> ClosedBill:
    """The tenant's bill ``bill_id``; 404 for another tenant's or a missing one, 409 while open."""
    row = s.execute(select(BILLS.c.id, BILLS.c.tenant_id, BILLS.c.period, BILLS.c.status, BILLS.c.currency,
                           BILLS.c.total).where(BILLS.c.id == bill_id, BILLS.c.tenant_id == tenant_id)).first()
    if row is None:
        raise NotFound(f"bill {bill_id} not found")
    if row.status != "closed":
        raise Conflict(f"bill {bill_id} ({row.period}) is {row.status}: only a closed bill can be charged or "
                       "redeemed against", errors=[{"field": "bill_id", "message": "the bill is not closed"}])
    total = Decimal(str(row.total)).quantize(Decimal("0.01"))
    return ClosedBill(row.id, row.tenant_id, row.period, row.currency, total)


def eligible_amount(s: Session, bill: ClosedBill, codes: list[str]) -> Decimal:
    """What the bill's lines for ``codes`` (component, price plan or spec) add up to; the whole
    bill when ``codes`` is empty."""
    if not codes:
        return bill.total
    total = s.scalar(select(func.coalesce(func.sum(LINES.c.amount), 0)).where(
        LINES.c.bill_id == bill.id, LINES.c.tenant_id == bill.tenant_id,
        or_(LINES.c.component.in_(codes), LINES.c.plan_code.in_(codes), LINES.c.spec_id.in_(codes))))
    return Decimal(str(total)).quantize(Decimal("0.01"))
