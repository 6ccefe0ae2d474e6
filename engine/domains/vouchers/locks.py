"""The row locks that keep claims and redemptions from overspending, and their test-only switch.

Every check-then-write of a count or an amount (a campaign's claims, a voucher's remaining value,
a bill's covered share) runs under the lock of the row it guards: ``SELECT ... FOR UPDATE`` on
PostgreSQL (SQLite write transactions are serial already), or for a bill, which belongs to the
billing domain, a transaction-scoped advisory lock keyed by the bill id. ``Locking.enabled = False``
exists for the race tests only: they turn it off to show that their assertions would then fail.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

_BILL_LOCK_CLASS = 0x56434252  # "VCBR": first key of the advisory lock on one bill's redemptions


class Locking:
    enabled = True


def for_update(query: Any) -> Any:
    """``query`` with ``FOR UPDATE`` while locking is on."""
    return query.with_for_update() if Locking.enabled else query


def lock_bill(s: Session, bill_id: str) -> None:
    """Serialize the redemptions of one bill until the transaction ends (PostgreSQL)."""
    if not Locking.enabled or s.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(bill_id.encode()).digest()[:4], "big", signed=True)
    s.execute(text("SELECT pg_advisory_xact_lock(:c, :k)"), {"c": _BILL_LOCK_CLASS, "k": key})
