"""The one error shape, everywhere: ``errors`` is always a list; a wrong method is a documented 405
naming the methods the path takes; a JSON operation's body sent as something else is a 415 that
says so (instead of "missing data", or the body silently ignored)."""

from __future__ import annotations

from tests.api.conftest import DEMO_PASSWORD, login


def test_errors_is_a_list_even_when_there_is_nothing_more_to_say(client):
    for resp in (client.get("/api/v1/nope"), client.get("/api/v1/auth/me"),
                 client.post("/api/v1/auth/login", json={"username": "alpha-user", "password": "Wrong-Passw0rd!"})):
        body = resp.get_json()
        assert resp.status_code in (401, 404) and body["errors"] == [] and body["code"] and body["message"], body


def test_a_wrong_method_is_a_405_with_allow(client):
    resp = client.delete("/api/v1/auth/login")
    body = resp.get_json()
    assert resp.status_code == 405 and body["code"] == "method_not_allowed" and body["errors"] == []
    assert resp.headers["Allow"] == "OPTIONS, POST"
    assert body["message"] == "DELETE is not allowed on /api/v1/auth/login: it takes OPTIONS, POST"


def test_the_405_and_the_415_are_documented(client):
    spec = client.get("/api/openapi.json").get_json()
    description = spec["info"]["description"]
    assert "| 405 | `method_not_allowed` |" in description and "| 415 | `unsupported_media_type` |" in description
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["errors"]["type"] == "array" and set(error["required"]) == {"code", "message", "errors"}


def test_a_login_without_a_json_content_type_is_a_415_that_says_so(client):
    credentials = f'{{"username": "alpha-user", "password": "{DEMO_PASSWORD}"}}'
    for kwargs in ({}, {"data": credentials}, {"data": credentials, "content_type": "text/plain"},
                   {"data": {"username": "alpha-user"}}):  # the last one: a form
        resp = client.post("/api/v1/auth/login", **kwargs)
        body = resp.get_json()
        assert resp.status_code == 415, (kwargs, body)
        assert body["code"] == "unsupported_media_type" and "Content-Type: application/json" in body["message"]
        assert body["errors"] == [{"field": "Content-Type", "message": "expected application/json"}]
    ok = client.post("/api/v1/auth/login", data=credentials, content_type="application/json")
    assert ok.status_code == 200


def test_an_optional_json_body_sent_as_a_form_is_refused_not_ignored(client):
    headers = login(client, "alpha-user")
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 200  # no body: fine
    headers = login(client, "alpha-user")
    resp = client.post("/api/v1/auth/logout", headers=headers, data="all=true",
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 415, resp.get_json()


def test_uploads_are_not_json(client):
    """A multipart operation is not touched by the JSON content-type rule."""
    headers = login(client, "designer")
    resp = client.post("/api/v1/process-definitions", headers=headers, content_type="multipart/form-data",
                       data={})
    assert resp.status_code != 415, resp.get_json()
