"""Response headers that keep a browser from running or framing what the API serves.

Every response gets ``X-Content-Type-Options: nosniff`` (the browser believes the Content-Type
instead of guessing HTML from the bytes), ``X-Frame-Options: DENY``, ``Referrer-Policy:
no-referrer`` and ``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`` (JSON
needs nothing loaded, and nothing may frame it). The Swagger UI page (``/api/docs``) loads its
script and styles from a CDN and runs an inline script, so its policy only forbids framing.

Attachments are served as downloads, never rendered (``download_headers``): ``Content-Disposition:
attachment`` with an ASCII fallback name and the RFC 5987 ``filename*``, and the stored content
type only when it is one of a few inert types (``application/octet-stream`` otherwise: never HTML,
SVG or anything else a browser would run).
"""

from __future__ import annotations

import string
import unicodedata
from urllib.parse import quote

from flask import Flask, Response, request

INERT_TYPES = frozenset({"application/pdf", "image/gif", "image/jpeg", "image/png", "image/webp", "text/csv",
                         "text/plain"})
FALLBACK_TYPE = "application/octet-stream"
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_POLICY = "frame-ancestors 'none'"
DOCS_BLUEPRINT = "api-docs"  # flask-smorest's: the OpenAPI document and the Swagger UI page
_PLAIN = frozenset(string.ascii_letters + string.digits + " !#$&'()+,-.=@[]^_`{}~")  # safe in a quoted-string
_ATTR_CHARS = "!#$&+-.^_`|~"  # RFC 5987 attr-char besides letters and digits


def served_type(stored: str | None) -> str:
    """The Content-Type to serve an attachment with: the stored one only if it is inert."""
    kind = (stored or "").split(";", 1)[0].strip().lower()
    return kind if kind in INERT_TYPES else FALLBACK_TYPE


def content_disposition(filename: str) -> str:
    """``attachment`` with ``filename`` twice: plain ASCII for old clients, RFC 5987 UTF-8 for the rest."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    fallback = "".join(ch if ch in _PLAIN else "_" for ch in ascii_name).strip() or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe=_ATTR_CHARS)}"


def install(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        docs_page = request.blueprint == DOCS_BLUEPRINT and response.mimetype == "text/html"
        headers.setdefault("Content-Security-Policy", DOCS_POLICY if docs_page else API_POLICY)
        return response
