"""One JSON error shape for every failure: ``{"code", "message", "errors"}``.

Bad input is a 4xx that names the field, never a 500: webargs/marshmallow validation errors
become 422 with each failing field; engine errors carry their own status.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from engine.errors import EngineError

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid_input",
          429: "too_many_requests"}


def error_body(status: int, message: str, errors: Any = None, code: str | None = None) -> dict[str, Any]:
    return {"code": code or _CODES.get(status, "error"), "message": message, "errors": _plain(errors)}


def _plain(errors: Any) -> list[dict[str, Any]]:
    """Always a list of objects (empty when there is nothing to add to the message)."""
    if errors is None:
        return []
    items = list(errors) if isinstance(errors, list | tuple) else [errors]
    out = []
    for item in items:
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            item = dataclasses.asdict(item)
        out.append(item if isinstance(item, dict) else {"message": str(item)})
    return out


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


class NotJSON(EngineError):
    """A body for an operation that reads JSON, sent without ``Content-Type: application/json``."""

    status = 415
    code = "unsupported_media_type"


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_reads_json: dict[tuple[str, str], bool] = {}  # (endpoint, method) -> takes a JSON body


def _takes_json(endpoint: str, method: str) -> bool:
    """Does the view read a JSON body (flask-smorest's ``@blp.arguments``, location json)?"""
    key = (endpoint, method)
    if key not in _reads_json:
        view = current_app.view_functions.get(endpoint)
        view_class = getattr(view, "view_class", None)
        target = getattr(view_class, method.lower(), None) if view_class is not None else view
        params = (getattr(target, "_apidoc", None) or {}).get("arguments", {}).get("parameters", [])
        _reads_json[key] = any(p.get("in") == "json" for p in params)
    return _reads_json[key]


def _not_json() -> NotJSON:
    got = f"Content-Type {request.mimetype!r}" if request.mimetype else "no Content-Type"
    return NotJSON(f"this operation reads a JSON body: send it with 'Content-Type: application/json' (got {got})",
                   errors=[{"field": "Content-Type", "message": "expected application/json"}])


def require_json_content_type() -> None:
    """before_request: a body sent to an operation that reads JSON must say it is JSON (``curl -d``
    without ``-H 'Content-Type: application/json'`` sends a form): 415, instead of the body being
    ignored. (No body at all where fields are required: the 422 becomes this 415 too.)"""
    if request.method not in _BODY_METHODS or request.is_json or request.endpoint is None:
        return
    if (request.content_length or request.get_data(cache=True)) and _takes_json(request.endpoint, request.method):
        raise _not_json()


def install(app: Flask) -> None:
    app.before_request(require_json_content_type)

    @app.errorhandler(EngineError)
    def engine_error(exc: EngineError) -> Any:
        resp = jsonify(error_body(exc.status, exc.message, exc.errors, exc.code))
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            resp.headers["Retry-After"] = str(retry_after)
        return resp, exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        data = getattr(exc, "data", None) or {}
        messages = data.get("messages")
        if messages is not None:
            if "json" in messages and not request.is_json:  # required JSON fields, and no JSON body
                exc = _not_json()
                return jsonify(error_body(exc.status, exc.message, exc.errors, exc.code)), exc.status
            fields = _field_errors(messages)
            summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:3])
            return jsonify(error_body(status, f"invalid input: {summary}", fields)), status
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            allowed = sorted(exc.valid_methods)
            resp = jsonify(error_body(status, f"{request.method} is not allowed on {request.path}: it takes "
                                              f"{', '.join(allowed)}"))
            resp.headers["Allow"] = ", ".join(allowed)
            return resp, status
        return jsonify(error_body(status, exc.description or exc.name)), status
