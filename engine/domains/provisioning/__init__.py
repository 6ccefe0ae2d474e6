"""The provisioning domain: an approved order becomes resources at the providers.

``models`` (one unit per copy of an order line), ``service`` (planning units from a placement
choice, another pool after a refusal, the order's status from its units, per-line reading),
``ports`` (the ``provisioning`` port the ``provisioning/*`` operators call). The flow itself is
``bpmn/provisioning.bpmn`` (process id ``provisioning``), called by ``order`` after the order is
priced: plan, then per unit create (retried, re-placed after a provider's quota refusal) or a work
order for operations, then the order's status. ``expiry``: a line bought for a term ends by timer
(``bpmn/subscription_expiry.bpmn``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine

# ``provisioning``: called by ``order``, never started by a request; ``subscription_expiry``: started
# by ``expiry`` when a unit of a line with a term runs
INTERNAL_PROCESSES = ("provisioning", "subscription_expiry")


def install(engine: Engine) -> None:
    """Register the ``provisioning`` port, the save hook that schedules a term's expiry and the
    sweep that schedules one whose start failed, and mark the processes as the platform's own."""
    from engine.domains.provisioning import expiry, ports
    from engine.periodic import Periodic

    engine.ports.register("provisioning", ports.Provisioning)
    engine.runtime.internal_keys.update(INTERNAL_PROCESSES)
    if not any(getattr(h, "subscription_expiry_hook", False) for h in engine.runtime.save_hooks):
        engine.runtime.save_hooks.append(expiry.start_after_running(engine))
        engine.periodic.append(Periodic("subscription-expiry-sweep", expiry.SWEEP_INTERVAL_S,
                                        lambda: expiry.sweep(engine)))
