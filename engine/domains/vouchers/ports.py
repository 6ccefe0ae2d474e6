"""The vouchers port (``tasks.ports.VouchersPort``) for one write transaction.

Bound to the calling instance (``instance_scope``): only the platform's own voucher processes
(``voucher_redemption``, ``voucher_expiry``: internal, started by this domain's service) reach
anything, and only the redemption or voucher that is their business key, inside their tenant;
any other id answers as unknown. A refusal becomes the BPMN error its code names.
"""

from __future__ import annotations

from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.domains.vouchers import claims
from engine.domains.vouchers import redemption_rules as rules
from engine.domains.vouchers.locks import for_update
from engine.domains.vouchers.models import Redemption
from engine.errors import EngineError
from engine.ports import Port, instance_scope
from tasks.ports import Refused

# who completes the review (engine.domains.vouchers.redemptions.decide sets it around the completion)
deciding: ContextVar[str | None] = ContextVar("aicmp_voucher_reviewer", default=None)


def _redemption(s: Session, redemption_id: Any) -> Redemption:
    scope = instance_scope()
    unknown = Refused("UNKNOWN_REDEMPTION", f"no redemption {redemption_id!r}")
    if not scope.internal or not isinstance(redemption_id, str) or redemption_id != scope.business_key:
        raise unknown
    row = s.scalars(for_update(select(Redemption).where(Redemption.id == redemption_id,
                                                               Redemption.tenant_id == scope.tenant_id))
                    .execution_options(populate_existing=True)).first()
    if row is None:
        raise unknown
    return row


def _amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise Refused("INVALID_AMOUNT", f"amount {value!r} is not a number") from exc
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise Refused("INVALID_AMOUNT", f"amount {value!r} must have at most two decimal places")
    return amount


class Vouchers(Port):
    def _run(self, step: Any) -> dict[str, Any]:
        with self._ports.session() as s:
            try:
                return step(s)
            except rules.Refusal as exc:
                raise Refused(exc.code, exc.message) from exc
            except EngineError as exc:  # the bill is gone or open, the account short: the flow's error
                raise Refused(exc.code.upper(), exc.message) from exc

    def quote(self, redemption_id: str) -> dict[str, Any]:
        return self._run(lambda s: rules.quote(s, _redemption(s, redemption_id)))

    def hold(self, redemption_id: str) -> dict[str, Any]:
        return self._run(lambda s: rules.hold(s, _redemption(s, redemption_id)))

    def apply(self, redemption_id: str, amount: Any, comment: str | None) -> dict[str, Any]:
        value = _amount(amount)
        return self._run(lambda s: rules.apply(s, _redemption(s, redemption_id), value, decided_by=deciding.get(),
                                               comment=comment))

    def release(self, redemption_id: str, status: str, comment: str | None, reason: str | None) -> dict[str, Any]:
        if status not in ("rejected", "refused"):
            raise Refused("INVALID_STATUS", f"a released redemption is rejected or refused, not {status!r}")
        return self._run(lambda s: rules.release(s, _redemption(s, redemption_id), status=status,
                                                 decided_by=deciding.get() if status == "rejected" else None,
                                                 comment=comment, reason=reason))

    def expire(self, voucher_id: str) -> dict[str, Any]:
        scope = instance_scope()
        if not scope.internal or voucher_id != scope.business_key:
            raise Refused("UNKNOWN_VOUCHER", f"no voucher {voucher_id!r}")
        return self._run(lambda s: claims.expire(s, scope.tenant_id, voucher_id))
