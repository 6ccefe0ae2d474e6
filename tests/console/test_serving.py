"""``aicmp serve`` serves the built console at /console/ (api/console.py): the page with a policy
that lets it run (its own origin only), the hashed files cached, nothing outside the build, and a
clear 503 in the one error shape when nothing was built."""

from __future__ import annotations

import pytest
from flask import Flask

from api import console, errors, headers


@pytest.fixture
def dist(tmp_path, monkeypatch):
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text('<!doctype html><script type="module" src="assets/app-X.js"></script>')
    (root / "assets" / "app-X.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("not for the web")
    monkeypatch.setattr(console, "DIST", root)
    return root


@pytest.fixture
def client():
    app = Flask("console-test")
    errors.install(app)
    headers.install(app)
    console.install(app)
    return app.test_client()


def test_the_page_is_served_never_cached_under_a_policy_of_its_own_origin(dist, client):
    page = client.get("/console/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"assets/app-X.js" in page.data
    assert page.headers["Cache-Control"] == "no-cache"
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy and "unsafe-inline" not in policy
    assert "http" not in policy  # no CDN, no other host
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_the_bare_path_redirects_to_the_page(dist, client):
    response = client.get("/console")
    assert response.status_code == 308 and response.headers["Location"].endswith("/console/")


def test_hashed_files_are_cached(dist, client):
    response = client.get("/console/assets/app-X.js")
    assert response.status_code == 200
    assert "max-age=86400" in response.headers["Cache-Control"]


@pytest.mark.parametrize("path", ["/console/../secret.txt", "/console/%2e%2e/secret.txt", "/console/assets/nope.js"])
def test_nothing_outside_the_build_is_served(dist, client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"not for the web" not in response.data
    assert set(response.get_json()) == {"code", "message", "errors"}


def test_without_a_build_the_console_says_how_to_build_it(tmp_path, monkeypatch, client):
    monkeypatch.setattr(console, "DIST", tmp_path / "missing")
    for path in ("/console/", "/console/assets/app.js"):
        response = client.get(path)
        assert response.status_code == 503
        body = response.get_json()
        assert body["code"] == "console_not_built" and "build" in body["message"] and body["errors"] == []
