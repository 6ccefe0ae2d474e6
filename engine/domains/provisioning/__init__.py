"""The provisioning domain: an approved order becomes resources at the providers.

``models`` (one unit per copy of an order line), ``service`` (planning units from a placement
choice, another pool after a refusal, the order's status from its units, per-line reading),
``ports`` (the ``provisioning`` port the ``provisioning/*`` operators call). The flow itself is
``bpmn/provisioning.bpmn`` (process id ``provisioning``), called by ``order`` after the order is
priced: plan, then per unit create (retried, re-placed after a provider's quota refusal) or a work
order for operations, then the order's status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine

INTERNAL_PROCESSES = ("provisioning",)  # called by ``order``, never started by a request


def install(engine: Engine) -> None:
    """Register the ``provisioning`` port and mark the process as the platform's own."""
    from engine.domains.provisioning import ports

    engine.ports.register("provisioning", ports.Provisioning)
    engine.runtime.internal_keys.update(INTERNAL_PROCESSES)
