"""The billing domain: price plans, metering, rating, quotes and bills (issue 11).

``money`` (the one rounding rule), ``dayrules`` and ``tiers`` (pure arithmetic), ``pricing`` (one
priced line: what quotes and rating share), ``plans`` (plans, versions, discounts, choosing the most
specific), ``usage`` (CloudEvents ingestion, meters), ``rating`` (a tenant's day into lines, closing),
``ledger`` (bills as rating writes them), ``resources`` (rated resources: start, stop), ``quotes``,
``bills`` (reading, analysis, CSV, adjustments), ``consumer`` (the RabbitMQ consumer), ``ports`` (the
``billing`` port), ``flow`` (the ``billing_daily`` process), ``service`` (the public face).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine


def install(engine: Engine) -> None:
    """Register the ``billing`` port, ``billing_daily`` as a process only this domain starts, the save
    hook that starts it for a tenant whose process opened a rated resource, and the application
    detail's quote and its order's pricing (``quotes.application_quote``, ``orders.order_pricing``)."""
    from engine.domains.applications import service as applications
    from engine.domains.billing import flow, hooks, orders, ports, quotes

    engine.ports.register("billing", ports.Billing)
    engine.runtime.internal_keys.update(flow.INTERNAL_PROCESSES)
    if not any(getattr(h, "billing_daily_hook", False) for h in engine.runtime.save_hooks):
        engine.runtime.save_hooks.append(hooks.daily_after_start(engine))
    for hook in (quotes.application_quote, orders.order_pricing):
        if hook not in applications.DETAIL_HOOKS:
            applications.DETAIL_HOOKS.append(hook)
