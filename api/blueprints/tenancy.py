"""Tenancy routes: tenants, organisations, business systems, users, roles and quotas (one module each)."""

from __future__ import annotations

from flask_smorest import Api


def register(api: Api) -> None:
    from api.blueprints import business_systems, organizations, quotas, roles, tenants, users

    for module in (tenants, organizations, business_systems, users, roles, quotas):
        api.register_blueprint(module.blp)
