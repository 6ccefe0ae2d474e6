"""The installed business domains: one package each under ``engine/domains/<name>/``.

The engine core imports no domain. It finds them only through ``INSTALLED``: each name is a
package ``engine.domains.<name>`` with a ``models`` module (its tables; importing it registers
them on ``Base.metadata``) and an ``install(engine)`` that registers its ports and save hooks.
``load_models`` is what the Engine and the migrations call so that every installed domain's
tables are known; ``install`` is what the Engine calls once its core is wired.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType
from typing import Any

INSTALLED: tuple[str, ...] = ("catalog", "cart", "applications", "orders", "billing", "accounts", "vouchers",
                              "resources", "placement", "provisioning", "resource_actions",
                              "work_orders")


def _module(name: str, part: str | None = None) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}" + (f".{part}" if part else ""))


def load_models(names: Iterable[str] = INSTALLED) -> None:
    """Register the tables of the ``names`` domains on ``Base.metadata``."""
    for name in names:
        _module(name, "models")


def install(engine: Any, names: Iterable[str] = INSTALLED) -> None:
    """Install the ``names`` domains into ``engine``, in order: each registers its ports and hooks."""
    for name in names:
        _module(name).install(engine)
