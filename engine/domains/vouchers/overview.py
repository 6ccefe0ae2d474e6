"""The operators' overview: budget, issued, claimed, redeemed and expired, per year, per campaign
and per tenant, and the same rows as CSV.

Issued is what campaigns put out (face value x count), claimed the face value of the vouchers
tenants took, redeemed what was applied to bills, expired what lapsed unused (recorded by the
expiry timer), held what running redemptions hold now.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from engine.domains.vouchers.campaigns import staff_only
from engine.domains.vouchers.models import Campaign, Redemption, Voucher, VoucherBudget
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.core import Engine

ZERO = Decimal("0.00")
FIGURES = ("issued", "claimed", "redeemed", "expired", "held")


def _blank() -> dict[str, Any]:
    return dict.fromkeys(FIGURES, ZERO) | {"vouchers": 0}


def overview(engine: Engine, principal: Principal, *, year: int | None = None) -> dict[str, Any]:
    """{years: [...], campaigns: [...], tenants: [...]}, each row with the figures above."""
    staff_only(principal)
    with engine.db.read() as s:
        budgets = {b.year: b for b in s.scalars(select(VoucherBudget))}
        cq = select(Campaign)
        if year is not None:
            cq = cq.where(Campaign.year == year)
        campaigns = {c.id: c for c in s.scalars(cq.order_by(Campaign.year, Campaign.code))}
        per_voucher = s.execute(select(Voucher.campaign_id, Voucher.tenant_id, func.count(),
                                       func.sum(Voucher.face_value), func.sum(Voucher.expired_amount),
                                       func.sum(Voucher.held))
                                .group_by(Voucher.campaign_id, Voucher.tenant_id)).all()
        redeemed = s.execute(select(Redemption.campaign_id, Redemption.tenant_id, func.sum(Redemption.applied))
                             .where(Redemption.status == "applied")
                             .group_by(Redemption.campaign_id, Redemption.tenant_id)).all()
    by_campaign = {cid: _blank() | {"issued": c.face_value * c.total_count} for cid, c in campaigns.items()}
    by_tenant: dict[tuple[int, str], dict[str, Any]] = {}

    def add(cid: str, tenant: str, **figures: Any) -> None:
        year_of = campaigns[cid].year
        row = by_tenant.setdefault((year_of, tenant), _blank())
        for key, value in figures.items():
            value = Decimal(str(value or 0)).quantize(ZERO) if key != "vouchers" else int(value or 0)
            row[key] += value
            by_campaign[cid][key] += value

    for cid, tenant, count, face, expired, held in per_voucher:
        if cid in campaigns:
            add(cid, tenant, vouchers=count, claimed=face, expired=expired, held=held)
    for cid, tenant, applied in redeemed:
        if cid in campaigns:
            add(cid, tenant, redeemed=applied)
    years: dict[int, dict[str, Any]] = {}
    budget_years = set(budgets) if year is None else {year} & set(budgets)
    for y in sorted({c.year for c in campaigns.values()} | budget_years):
        b = budgets.get(y)
        row = _blank() | {"year": y, "budget": b.amount if b else ZERO, "committed": b.committed if b else ZERO}
        for cid, c in campaigns.items():
            if c.year == y:
                for key in (*FIGURES, "vouchers"):
                    row[key] += by_campaign[cid][key]
        years[y] = row
    return {
        "years": list(years.values()),
        "campaigns": [{"campaign_id": cid, "code": c.code, "name": c.name, "year": c.year, "status": c.status,
                       "total_count": c.total_count, "claimed_count": c.claimed_count, **by_campaign[cid]}
                      for cid, c in campaigns.items()],
        "tenants": [{"year": y, "tenant_id": t, **row} for (y, t), row in sorted(by_tenant.items())],
    }


CSV_COLUMNS = ("level", "year", "campaign", "tenant_id", "budget", "issued", "claimed", "redeemed", "expired", "held",
               "vouchers")


def csv_rows(engine: Engine, principal: Principal, *, year: int | None = None) -> Iterator[list[Any]]:
    """Header, then one row per year, per campaign and per tenant and year."""
    data = overview(engine, principal, year=year)
    yield list(CSV_COLUMNS)
    for r in data["years"]:
        yield ["year", r["year"], "", "", r["budget"], *(r[k] for k in FIGURES), r["vouchers"]]
    for r in data["campaigns"]:
        yield ["campaign", r["year"], r["code"], "", "", *(r[k] for k in FIGURES), r["vouchers"]]
    for r in data["tenants"]:
        yield ["tenant", r["year"], "", r["tenant_id"], "", *(r[k] for k in FIGURES), r["vouchers"]]
