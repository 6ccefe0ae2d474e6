"""The API docs page works with no network: Swagger UI comes from the pinned flask-swagger-ui
package, served by the app itself, at /api/docs and /api/docs/."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlparse

import pytest

HOST = "localhost"


def references(html: str) -> list[str]:
    """Every src/href attribute and the spec URL handed to Swagger UI."""
    return re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r'\burl:\s*"([^"]+)"', html)


@pytest.mark.parametrize("path", ["/api/docs", "/api/docs/"])
def test_the_docs_page_and_everything_it_loads_come_from_the_app(client, path):
    page = client.get(path)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "SwaggerUIBundle" in html
    assert not re.findall(r"https?://", html), "the page names another host"
    assert '"validatorUrl": null' in html  # Swagger UI would otherwise call validator.swagger.io
    refs = references(html)
    assert {r.rsplit("/", 1)[-1] for r in refs} >= {"swagger-ui.css", "swagger-ui-bundle.js",
                                                     "swagger-ui-standalone-preset.js", "openapi.json"}
    for ref in refs:
        url = urlparse(urljoin(f"http://{HOST}{path}", ref))
        assert url.netloc == HOST, ref
        asset = client.get(url.path)
        assert asset.status_code == 200 and asset.data, ref
        if url.path.endswith(".css"):  # a stylesheet may load fonts or images: only inline ones
            assert not [u for u in re.findall(r"url\(([^)]*)\)", asset.get_data(as_text=True))
                        if not u.strip("'\" ").startswith("data:")], ref
    assert client.get(path).headers["Content-Security-Policy"] == page.headers["Content-Security-Policy"]


def test_only_the_swagger_ui_files_are_served(client):
    assert client.get("/api/docs/assets/swagger-ui.css").mimetype == "text/css"
    for path in ("/api/docs/assets/index.html", "/api/docs/assets/../docs.py", "/api/docs/assets/LICENSE"):
        resp = client.get(path)
        assert resp.status_code == 404 and resp.get_json()["code"] == "not_found", path
