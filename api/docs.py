"""The API's documentation: the OpenAPI document's error conventions, and the docs page.

The page (``/api/docs`` and ``/api/docs/``, Swagger UI) works offline: its scripts and stylesheet
are the Swagger UI distribution shipped in the pinned ``flask-swagger-ui`` package, served from
here, never from a CDN; the online spec validator badge is off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flask_smorest
import flask_swagger_ui
from flask import Flask, send_from_directory

from api.schemas import ErrorSchema

DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
ASSETS_URL = "/api/docs/assets/"  # OPENAPI_SWAGGER_UI_URL: the page loads swagger-ui*.js/.css from here
UI_CONFIG: dict[str, Any] = {"validatorUrl": None}  # OPENAPI_SWAGGER_UI_CONFIG: no call to validator.swagger.io
PAGE_ENDPOINT = "api-docs.openapi_swagger_ui"  # flask-smorest's Swagger UI page
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
          "favicon-16x16.png", "favicon-32x32.png")


ERRORS = """Errors: every failure answers JSON `{"code", "message", "errors"}`; `errors` is always a list
(the invalid fields as `{"field", "message"}`, deployment findings, ...), empty when there is
nothing more to say than `message`.

| status | code | when |
|---|---|---|
| 400 | `bad_request` | malformed JSON, or a request the operation cannot take |
| 401 | `unauthorized` | no valid token (or a failed login) |
| 403 | `forbidden` | authenticated, but the permission is missing |
| 404 | `not_found` | no such path or object (another tenant's objects too) |
| 405 | `method_not_allowed` | the path exists, not with this method (the `Allow` header lists its methods) |
| 409 | `conflict` | the object's state does not allow it (now) |
| 413 | `too_large` | the body is over the size limit |
| 415 | `unsupported_media_type` | a body for an operation that reads JSON, not sent as `application/json` |
| 422 | `invalid_input` | the input breaks the operation's schema or a rule; `errors` names each field |
| 429 | `too_many_requests` | slow down (see `Retry-After`) |

No input makes the API answer 5xx. Each operation lists the statuses specific to it; `default`
stands for the rest of this table.
"""


class Api(flask_smorest.Api):
    """flask-smorest's Api with our error body as the documented ``Error`` schema."""

    ERROR_SCHEMA = ErrorSchema


def install(app: Flask) -> None:
    """Document the error conventions; serve the Swagger UI files, and the page at ``/api/docs/``
    as well as ``/api/docs``."""
    api = app.extensions.get("aicmp.api")
    if api is not None:
        api.spec.options.setdefault("info", {}).setdefault("description", ERRORS)

    def asset(filename: str) -> Any:
        if filename not in ASSETS:
            from werkzeug.exceptions import NotFound

            raise NotFound()
        return send_from_directory(DIST, filename, max_age=86400)

    app.add_url_rule(f"{ASSETS_URL}<path:filename>", endpoint="swagger_ui_asset", view_func=asset)
    page = app.view_functions.get(PAGE_ENDPOINT)
    if page is not None:
        # an endpoint inside flask-smorest's "api-docs" blueprint (request.blueprint is the part
        # before the dot), so /api/docs/ gets the same response headers as /api/docs
        app.add_url_rule("/api/docs/", endpoint=f"{PAGE_ENDPOINT}_slash", view_func=page)
