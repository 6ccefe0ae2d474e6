"""flask-smorest blueprints, one module per domain.

Make each with ``Blueprint`` from here: its ``@blp.arguments`` read JSON bodies through
``api.input_limits`` (the one parse, with depth, number and text limits). Each module names its
blueprint ``blp``; ``MODULES`` lists them, and ``register`` is the one way they join the app (in
this order, which is the order of the OpenAPI document's tags). A new domain adds its module here.
"""

from __future__ import annotations

from importlib import import_module

import flask_smorest

from api.input_limits import Parser


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


MODULES = (
    "auth",
    # tenancy
    "tenants", "organizations", "business_systems", "users", "roles", "quotas",
    "audit",
    # domains
    "catalog", "cart", "applications", "site_messages",
    "price_plans", "quotes", "usage", "bills",
    "accounts", "vouchers",
    "cloud_accounts", "resource_pools", "resources", "resource_actions",
    "work_orders",
    # processes
    "process_definitions", "operators", "process_instances", "incidents", "tasks",
)


def register(api: flask_smorest.Api) -> None:
    """Register every module's ``blp`` with the app's ``Api``."""
    for name in MODULES:
        api.register_blueprint(import_module(f"{__name__}.{name}").blp)
