"""What the vouchers domain hooks into the core: a save hook.

``release_on_cancel``: a ``voucher_redemption`` instance cancelled outright (process-instance
cancel by an operator, not a rejection the process handles) gives back what its redemption holds
of the voucher and ends the redemption ``refused``, so a hold never outlives its process.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.domains.vouchers import redemption_rules as rules
from engine.domains.vouchers.locks import for_update
from engine.domains.vouchers.models import Redemption
from engine.domains.vouchers.redemptions import PROCESS_KEY


def release_on_cancel(s: Session, loaded: Any) -> None:
    row = loaded.row
    if row.status != "cancelled" or row.process_key != PROCESS_KEY or not row.business_key:
        return
    r = s.scalars(for_update(select(Redemption).where(Redemption.id == row.business_key,
                                                      Redemption.tenant_id == row.tenant_id))).first()
    if r is None or r.status not in ("requested", "held"):
        return
    rules.release(s, r, status="refused", decided_by=None, comment=None,
                  reason=f"its process {row.id} was cancelled")
