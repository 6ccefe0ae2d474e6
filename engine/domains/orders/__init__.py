"""The orders domain: one order per approved application, with the approved items.

``models`` (orders, order items), ``service`` (numbers, creation, reading). The orders port that
the ``orders/create`` operator calls is the applications domain's: it creates an application's
order when that application's process reaches it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine


def install(engine: Engine) -> None:
    """Nothing to hook in: the orders have tables (``models``) and a service, no ports or hooks."""
