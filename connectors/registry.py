"""Provider type name -> connector class, and ``connect``, the one way to build a connector.

Classes are named as ``"module:Class"`` strings and imported on first use, so a provider whose SDK
is heavy (openstacksdk, pyvmomi, kubernetes) costs nothing until an account of that type is used,
and a module that is absent makes ``connect`` raise ``UnknownProvider`` saying so (instead of the
whole package failing to import).

To add a provider: write ``connectors/<type>.py`` with a ``connectors.base.Connector`` subclass
and add one line to ``PROVIDERS``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from connectors.base import Connector
from connectors.errors import UnknownProvider

PROVIDERS: dict[str, str] = {
    "simulator": "connectors.simulator:SimulatorConnector",
    "aws": "connectors.aws:AwsConnector",
    "openstack": "connectors.openstack:OpenStackConnector",
    "vsphere": "connectors.vsphere:VSphereConnector",
    "kubernetes": "connectors.kubernetes:KubernetesConnector",
    "nvml": "connectors.nvml:NvmlConnector",
}


def provider_types() -> list[str]:
    """Every registered provider type name, sorted."""
    return sorted(PROVIDERS)


def connector_class(provider_type: str) -> type[Connector]:
    """The class for ``provider_type``; ``UnknownProvider`` when the type is not registered or its
    module / class is missing."""
    target = PROVIDERS.get(provider_type)
    if target is None:
        raise UnknownProvider(f"no connector for provider type {provider_type!r}; known: {', '.join(provider_types())}",
                              provider=provider_type)
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the module exists but one of its own imports is missing: a real bug, show it
        raise UnknownProvider(f"the {provider_type} connector module {module_name} is not installed",
                              provider=provider_type) from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise UnknownProvider(f"{target} is not a connectors.base.Connector class", provider=provider_type)
    return cls


def connect(provider_type: str, endpoint: str | None, region: str | None, credentials: Mapping[str, Any],
            options: Mapping[str, Any] | None = None) -> Connector:
    """Build a connector for one account. Makes no network call; raises ``UnknownProvider``, or
    ``Unauthorised`` when ``credentials`` lack a field the provider needs."""
    cls = connector_class(provider_type)
    return cls(endpoint=endpoint, region=region, credentials=credentials, options=dict(options or {}))
