"""Connectors: the lowest room. One interface (``connectors.base``), one error hierarchy
(``connectors.errors``), one factory (``connectors.registry.connect``), one module per provider
(simulator, aws, openstack, vsphere, kubernetes, nvml), and the resource vector (``connectors.vector``)
they all count in. Nothing here imports the engine, the domains or tasks.
"""
