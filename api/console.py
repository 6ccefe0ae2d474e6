"""The web console: the single-page app built into ``console/dist`` (``console/build.sh``), served
at ``/console/`` under the API's origin so it calls ``/api/v1`` without CORS.

HTTP only: this module serves files, it knows nothing of the API's business. The page gets its own
Content-Security-Policy (the API's ``default-src 'none'`` would block the app): scripts, styles,
fonts and calls only from this origin, nothing inline; images also as ``data:`` URIs (bpmn.io's
watermark is one); no framing. The page itself is never cached (it names the current build's
files), the files it names are (their URLs carry the build's hash). Without a build the console
answers 503 with the one error body, saying how to build it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, redirect, send_from_directory
from werkzeug.exceptions import NotFound

from api.errors import error_body

DIST = Path(__file__).resolve().parents[1] / "console" / "dist"
PREFIX = "/console"
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
          "frame-ancestors 'none'")
ASSET_MAX_AGE = 86400

blp = Blueprint("console", __name__, url_prefix=PREFIX)


def _not_built() -> Response:
    body = error_body(503, "the web console is not built: run ./deploy/start.sh, or console/build.sh",
                      code="console_not_built")
    response = jsonify(body)
    response.status_code = 503
    return response


@blp.after_request
def _policy(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = POLICY
    return response


@blp.get("")
def bare() -> Any:
    return redirect(f"{PREFIX}/", code=308)


@blp.get("/")
def index() -> Any:
    if not (DIST / "index.html").is_file():
        return _not_built()
    response = send_from_directory(DIST, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.get("/<path:filename>")
def asset(filename: str) -> Any:
    if filename == "index.html":
        return index()
    if not DIST.is_dir():
        return _not_built()
    try:
        return send_from_directory(DIST, filename, max_age=ASSET_MAX_AGE)
    except NotFound:
        raise NotFound(f"no console file {filename}") from None


def install(app: Flask) -> None:
    """Serve the console at ``/console/`` (not part of the OpenAPI document: it is not the API)."""
    app.register_blueprint(blp)
