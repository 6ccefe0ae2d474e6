"""One JSON error shape for every failure: ``{"code", "message", "errors"}``.

Bad input is a 4xx that names the field, never a 500: webargs/marshmallow validation errors
become 422 with each failing field; engine errors carry their own status.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from engine.errors import EngineError

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid_input",
          429: "too_many_requests"}


def error_body(status: int, message: str, errors: Any = None, code: str | None = None) -> dict[str, Any]:
    return {"code": code or _CODES.get(status, "error"), "message": message, "errors": _plain(errors)}


def _plain(errors: Any) -> Any:
    if isinstance(errors, list):
        return [dataclasses.asdict(e) if dataclasses.is_dataclass(e) else e for e in errors]
    return errors


def _field_errors(messages: Any) -> list[dict[str, Any]]:
    """webargs nests messages by location then field: flatten to [{"field", "message"}]."""
    out: list[dict[str, Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out.extend({"field": prefix, "message": v} for v in value)
        else:
            out.append({"field": prefix, "message": str(value)})

    for location, fields in (messages or {}).items():
        walk("", fields) if location in ("json", "query", "form", "files", "headers", "view_args") else walk(
            location, fields)
    return out


def install(app: Flask) -> None:
    @app.errorhandler(EngineError)
    def engine_error(exc: EngineError) -> Any:
        return jsonify(error_body(exc.status, exc.message, exc.errors, exc.code)), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        data = getattr(exc, "data", None) or {}
        messages = data.get("messages")
        if messages is not None:
            fields = _field_errors(messages)
            summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:3])
            return jsonify(error_body(status, f"invalid input: {summary}", fields)), status
        return jsonify(error_body(status, exc.description or exc.name)), status
