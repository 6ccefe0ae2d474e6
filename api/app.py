"""The Flask application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from flask_smorest import Api
from sqlalchemy import text

from engine.config import Settings
from engine.core import Engine
from engine.errors import EngineError


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> Flask:
    app = Flask("aicmp")
    app.config.update(
        API_TITLE="aicmp",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
    )
    eng = engine or Engine(settings)
    app.extensions["aicmp.engine"] = eng
    Api(app)

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
        ready = all(v == "ok" for v in checks.values())
        return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503

    @app.errorhandler(EngineError)
    def engine_error(exc: EngineError) -> Any:
        return jsonify(code=exc.code, message=exc.message, errors=_jsonable(exc.errors)), exc.status

    return app


def _jsonable(errors: Any) -> Any:
    if isinstance(errors, list):
        return [vars(e) if hasattr(e, "__dataclass_fields__") else e for e in errors]
    return errors
