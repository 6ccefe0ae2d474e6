"""The resource_actions domain: what tenants ask of their resources (terminate, start, stop,
reboot, resize), each a request row and a small process.

``models`` (the requests, one open termination per resource), ``service`` (the public face: ask,
read, a resource with its cost so far), ``ports`` (the ``resource_actions`` port the
``resource_actions/*`` operators use). Processes: ``termination``, ``resource_action`` and the
``resource_approval`` both call, started only by this domain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine


def install(engine: Engine) -> None:
    """Register the ``resource_actions`` port and mark the domain's processes internal."""
    from engine.domains.resource_actions import ports, service

    engine.ports.register("resource_actions", ports.ResourceActions)
    engine.runtime.internal_keys.update(service.INTERNAL_PROCESSES)
