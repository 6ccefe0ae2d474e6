"""The resources domain: cloud accounts, resource pools and the resources at the providers.

``models`` (tables), ``secrets`` (credentials sealed with the credentials key), ``accounts``
(registering, reading, connecting, probing, alerts), ``pools`` (capacity figures, static pools,
prices, scores), ``inventory`` (resources: import, record, assign, orphans), ``sync`` (pools and
inventory from a connector), ``service`` (the public face: what the API and placement call),
``ports`` (the ``resources`` port the ``connector/*`` operators use).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine

PROBE_INTERVAL_S = 300.0  # each enabled account is probed at least this often
SYNC_INTERVAL_S = 900.0  # and its pools and inventory synchronised


def install(engine: Engine) -> None:
    """Open the credentials key (a missing key outside the embedded default stops the start here),
    register the ``resources`` port and the periodic probe and sync."""
    from engine.domains.resources import ports, secrets, service
    from engine.periodic import Periodic

    engine.resources_sealer = secrets.sealer(engine.settings)
    engine.ports.register("resources", partial(ports.Resources, engine=engine))
    engine.periodic.extend([
        Periodic("resources-probe", 30.0, lambda: service.probe_due(engine, PROBE_INTERVAL_S)),
        Periodic("resources-sync", 60.0, lambda: service.sync_due(engine, SYNC_INTERVAL_S)),
    ])
