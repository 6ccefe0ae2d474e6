"""The Flask application factory: ``api.create_app()``."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from flask import Flask, jsonify
from flask_jwt_extended import JWTManager
from marshmallow import fields as ma_fields
from marshmallow import validate
from sqlalchemy import text

from api import blueprints, console, docs, errors, headers, input_limits
from api.blueprints import auth
from engine.config import Settings, generated_secret
from engine.core import Engine, assemble


def _jwt_secret(settings: Settings) -> str:
    """AICMP_JWT_SECRET, else a secret generated once and kept under var/ (shared by all workers)."""
    return os.environ.get("AICMP_JWT_SECRET") or generated_secret(settings.var_dir, "jwt-secret")


def _numeric_range(converter: Any, field: ma_fields.Field, **_: Any) -> dict[str, Any]:
    """apispec writes a Decimal field's Range bounds as strings ("0"), which is not valid OpenAPI
    (and breaks clients generating requests from it): emit them as numbers."""
    out: dict[str, Any] = {}
    if isinstance(field, ma_fields.Decimal):
        for rule in field.validators:
            if isinstance(rule, validate.Range):
                if rule.min is not None:
                    out["minimum"] = float(rule.min) if rule.min != int(rule.min) else int(rule.min)
                if rule.max is not None:
                    out["maximum"] = float(rule.max) if rule.max != int(rule.max) else int(rule.max)
    return out


def _broker_check(url: str) -> str:
    """Can we open a connection to the message broker (within two seconds)?"""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - readiness reports, it does not raise
        return f"error: {type(exc).__name__}"


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> Flask:
    eng = engine or assemble(settings)
    app = Flask("aicmp")
    app.config.update(
        API_TITLE="aicmp",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL=docs.ASSETS_URL,  # served from the pinned flask-swagger-ui package (api/docs.py)
        OPENAPI_SWAGGER_UI_CONFIG=docs.UI_CONFIG,
        API_SPEC_OPTIONS={"components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
            "security": [{"bearerAuth": []}]},
        JWT_SECRET_KEY=_jwt_secret(eng.settings),
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=eng.settings.access_token_minutes),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=eng.settings.refresh_token_days),
        MAX_CONTENT_LENGTH=eng.settings.max_bpmn_bytes * 4,
    )
    app.extensions["aicmp.engine"] = eng
    api = docs.Api(app)  # flask-smorest's, documenting our error body
    api.ma_plugin.converter.add_attribute_function(_numeric_range)
    app.extensions["aicmp.api"] = api
    docs.install(app)
    errors.install(app)
    headers.install(app)  # nosniff, no framing, a strict CSP on every response
    input_limits.install(app)  # JSON depth/number/text limits on every request, before any view
    JWTManager(app)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> Any:
        checks = {}
        try:
            with eng.db.read() as s:
                s.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - readiness reports, it does not raise
            checks["database"] = f"error: {type(exc).__name__}"
        if eng.settings.broker_url:
            checks["broker"] = _broker_check(eng.settings.broker_url)
        ready = all(v == "ok" for v in checks.values())
        return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503

    auth.install(app)  # flask-jwt-extended's failures in the one error shape
    blueprints.register(api)  # every route: api/blueprints.MODULES
    console.install(app)  # the web console's built files at /console/ (api/console.py)
    return app
