"""The catalog domain: categories, products, their specs and which tenants see them.

``models`` (also ``ItemLine``: a chosen spec as application and order lines record it),
``service`` (reading and managing the catalog).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine


def install(engine: Engine) -> None:
    """Nothing to hook in: the catalog has tables (``models``) and a service, no ports or hooks."""
