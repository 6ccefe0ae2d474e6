"""Compute vouchers (算力券): yearly budgets, campaigns, claims, vouchers, redemptions, expiry.

``models`` (budgets, campaigns, vouchers, redemptions), ``campaigns`` (budgets and campaigns),
``claims`` (claiming, a tenant's vouchers, expiry), ``redemption_rules`` (quote, hold, apply,
release under the locks of ``locks``), ``redemptions`` (requesting and deciding through the
``voucher_redemption`` process), ``ports`` (the vouchers port its operators call), ``overview``
(figures per year, campaign and tenant; CSV). Accounts and the ledger are ``engine.domains.accounts``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine

# Started only by this domain's service (redemptions.request, claims.schedule_expiry).
INTERNAL_PROCESSES = ("voucher_redemption", "voucher_expiry")


def install(engine: Engine) -> None:
    """Register the vouchers port, the save hook that releases a cancelled redemption's hold, and
    the processes only this domain starts."""
    from engine.domains.vouchers import hooks, ports

    engine.ports.register("vouchers", ports.Vouchers)
    if hooks.release_on_cancel not in engine.runtime.save_hooks:
        engine.runtime.save_hooks.append(hooks.release_on_cancel)
    engine.runtime.internal_keys.update(INTERNAL_PROCESSES)
