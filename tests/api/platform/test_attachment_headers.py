"""Attachments come back as downloads a browser will not run: Content-Disposition attachment with a safe
RFC 5987 name, an inert content type (octet-stream unless allow-listed), nosniff; and every API
response carries nosniff, no framing and a strict Content-Security-Policy."""

from __future__ import annotations

import io
from typing import Any

import pytest

from api.headers import content_disposition, served_type


def upload(shop: Any, data: bytes, filename: str, content_type: str) -> tuple[str, dict[str, Any]]:
    draft = shop.client.post("/api/v1/applications", headers=shop.headers("alpha-user"), json={
        "business_system_id": shop.system["alpha"], "purpose": "p", "title": "t",
        "items": [{"spec_id": shop.spec("gpu-a100", "a100-1"), "quantity": 1}]}).get_json()
    resp = shop.client.post(f"/api/v1/applications/{draft['id']}/attachments", headers=shop.headers("alpha-user"),
                            content_type="multipart/form-data",
                            data={"file": (io.BytesIO(data), filename, content_type)})
    assert resp.status_code == 201, resp.get_json()
    return draft["id"], resp.get_json()


def download(shop: Any, app_id: str, attachment: dict[str, Any]) -> Any:
    return shop.client.get(f"/api/v1/applications/{app_id}/attachments/{attachment['id']}",
                           headers=shop.headers("alpha-user"))


def test_an_html_attachment_comes_back_as_an_inert_download(shop):
    page = b"<html><script>alert(document.cookie)</script></html>"
    app_id, attachment = upload(shop, page, "invoice.html", "text/html")
    resp = download(shop, app_id, attachment)
    assert resp.status_code == 200 and resp.data == page
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Disposition"] == "attachment; filename=\"invoice.html\"; filename*=UTF-8''invoice.html"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


@pytest.mark.parametrize(("declared", "served"), [
    ("image/svg+xml", "application/octet-stream"),
    ("application/xhtml+xml", "application/octet-stream"),
    ("application/javascript", "application/octet-stream"),
    ("TEXT/HTML; charset=utf-8", "application/octet-stream"),
    ("image/png", "image/png"),
    ("application/pdf", "application/pdf"),
    ("text/plain", "text/plain; charset=utf-8"),
])
def test_only_inert_types_are_served_as_declared(shop, declared, served):
    app_id, attachment = upload(shop, b"bytes", "file.bin", declared)
    resp = download(shop, app_id, attachment)
    assert resp.headers["Content-Type"] == served
    assert resp.headers["Content-Disposition"].startswith("attachment;")


def test_the_file_name_is_safe_and_rfc5987_encoded(shop):
    app_id, attachment = upload(shop, b"x", "r\u00e9sum\u00e9; v2.pdf", "application/pdf")
    disposition = download(shop, app_id, attachment).headers["Content-Disposition"]
    assert disposition == "attachment; filename=\"resume_ v2.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%3B%20v2.pdf"


@pytest.mark.parametrize(("name", "expected"), [
    ('say "hi".txt', "attachment; filename=\"say _hi_.txt\"; filename*=UTF-8''say%20%22hi%22.txt"),
    ("a\\b\r\nSet-Cookie: x.txt", "attachment; filename=\"a_b__Set-Cookie_ x.txt\"; "
                                   "filename*=UTF-8''a%5Cb%0D%0ASet-Cookie%3A%20x.txt"),
    ("\u62a5\u544a", "attachment; filename=\"attachment\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A"),
])
def test_content_disposition_quotes_nothing_dangerous(name, expected):
    assert content_disposition(name) == expected


def test_served_type():
    assert served_type(None) == served_type("") == served_type("text/html") == "application/octet-stream"
    assert served_type("image/JPEG") == "image/jpeg"


def test_every_response_carries_the_security_headers(client):
    for resp in (client.get("/healthz"), client.get("/api/v1/auth/me"), client.get("/api/v1/no-such-route"),
                 client.get("/api/openapi.json")):
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_the_swagger_ui_page_still_loads_its_scripts(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and b"swagger-ui-bundle.js" in page.data
    assert page.headers["Content-Security-Policy"] == "frame-ancestors 'none'"  # may load from the CDN, run inline
    assert page.headers["X-Content-Type-Options"] == "nosniff"
