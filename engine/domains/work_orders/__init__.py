"""Work orders: manual work for operations (a delivery that is a service, not a VM, or a failure to
fix), worked through ``bpmn/work_order.bpmn``.

``models`` (the work order and its lifecycle), ``rules`` (open once per source key, move, escalate),
``ports`` (the ``work_orders`` port its operators call), ``hooks`` (the save hook that records which
instance and task work an order, and cancels it with them), ``service`` (the list, one order, CSV).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine

# Called by provisioning and termination (or started by this platform), never by a request.
INTERNAL_PROCESSES = ("work_order",)


def install(engine: Engine) -> None:
    """Register the work orders port, the save hook that mirrors its tasks, and the process only the
    platform starts."""
    from engine.domains.work_orders import hooks, ports

    engine.ports.register("work_orders", ports.WorkOrders)
    if hooks.mirror_work not in engine.runtime.save_hooks:
        engine.runtime.save_hooks.append(hooks.mirror_work)
    engine.runtime.internal_keys.update(INTERNAL_PROCESSES)
