"""A seeded engine for the accounts and vouchers tests: the demo tenants and users, the product's
processes (bpmn/ and forms/, voucher_redemption and voucher_expiry included), principals by user
name, and closed bills written straight into billing's tables (the tests of billing build them
through rating; here only a closed bill with its lines is needed)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.config import Settings
from engine.core import Engine
from engine.domains.accounts import service as accounts
from engine.domains.billing.models import Bill, BillLine
from engine.domains.vouchers import campaigns
from engine.models import Role, Tenant, User, UserRole
from engine.principal import Principal
from seed import seed
from tests.helpers import T0

PASSWORD = "Demo-Passw0rd!"


def principal(engine: Engine, username: str) -> Principal:
    with engine.db.read() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
        roles = tuple(s.scalars(select(Role.code).join(UserRole, UserRole.role_id == Role.id)
                                .where(UserRole.user_id == user.id)))
    return Principal(user.id, user.username, user.tenant_id, user.organization_id, roles)


class World:
    def __init__(self, url: str, tmp_path: Path) -> None:
        self.engine = Engine(Settings(var_dir=tmp_path, database_url=url, argon2_profile="test"))
        seed(self.engine, demo_password=PASSWORD, announce=None)
        with self.engine.db.read() as s:
            self.tenant = {t.code: t.id for t in s.scalars(select(Tenant))}
        self.operator = principal(self.engine, "operator")
        self.admin = principal(self.engine, "admin")
        self.alpha = principal(self.engine, "alpha-admin")
        self.alpha_user = principal(self.engine, "alpha-user")
        self.beta = principal(self.engine, "beta-admin")

    def close(self) -> None:
        self.engine.close()

    def open_accounts(self, credit_limit: str = "0") -> None:
        for code in ("alpha", "beta"):
            accounts.open_account(self.engine, self.operator, tenant_id=self.tenant[code], credit_limit=credit_limit)

    def campaign(self, *, budget: str = "1000000.00", **fields: Any) -> dict[str, Any]:
        """A 2026 campaign (after setting the 2026 budget); ``fields`` override the defaults."""
        campaigns.set_budget(self.engine, self.operator, year=2026, amount=budget)
        code = fields.pop("code", "spring")
        values: dict[str, Any] = {
            "year": 2026, "code": code, "name": f"Campaign {code}", "face_value": "1000.00", "total_count": 10,
            "per_tenant_limit": 2, "claim_starts_at": T0 - timedelta(days=1), "claim_ends_at": T0 + timedelta(days=30),
            "validity_days": 90, "redemption_ratio": "0.30", "frequency": "monthly", **fields}
        return campaigns.create_campaign(self.engine, self.operator, **values)

    def bill(self, tenant: str, period: str, lines: dict[str, str], *, status: str = "closed") -> str:
        """A bill of ``tenant`` for ``period`` with one line per component (amount as text)."""
        tid = self.tenant[tenant]
        with self.engine.db.write() as s:
            bill = Bill(tenant_id=tid, period=period, status=status, currency="CNY",
                        total=sum((Decimal(a) for a in lines.values()), Decimal("0")),
                        closed_at=T0 if status == "closed" else None)
            s.add(bill)
            s.flush()
            year, month = (int(p) for p in period.split("-"))
            for i, (component, amount) in enumerate(lines.items()):
                s.add(BillLine(bill_id=bill.id, tenant_id=tid, day=T0.date().replace(year=year, month=month, day=1),
                               kind="rated", source="usage", line_key=f"{component}:{i}", target_key=component,
                               component=component, amount=Decimal(amount)))
            return bill.id
