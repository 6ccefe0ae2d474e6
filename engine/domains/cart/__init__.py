"""The cart domain: the specs a tenant user collects before applying for them.

``models`` (cart items), ``service`` (the cart's operations).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine


def install(engine: Engine) -> None:
    """Nothing to hook in: the cart has a table (``models``) and a service, no ports or hooks."""
