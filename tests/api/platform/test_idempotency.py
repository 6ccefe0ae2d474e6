"""Idempotency-Key: repeats replay the first answer, and concurrent duplicates execute once
(threads against SQLite and PostgreSQL through the real app)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from flask import Flask
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.idempotency import HEADER, REPLAYED_HEADER, KeyInUse, claim, idempotent
from api.security import current_principal
from engine.errors import InvalidInput
from tests.api.conftest import login


class Calls:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.fail_next = False
        self.delay = 0.0


def add_test_routes(app: Flask, calls: Calls) -> None:
    """Tiny create routes for these tests (registered before the app's first request)."""

    @app.post("/test/things")
    @idempotent
    def make_thing() -> Any:
        with calls.lock:
            calls.count += 1
            if calls.fail_next:
                calls.fail_next = False
                raise InvalidInput("name: refused once", errors=[{"field": "name", "message": "refused once"}])
        time.sleep(calls.delay)
        return {"id": str(uuid.uuid4()), "owner": current_principal().username}, 201

    @app.post("/test/other-things")
    @idempotent
    def make_other_thing() -> Any:
        return {"id": str(uuid.uuid4())}, 201

    blp = Blueprint("idem_test", __name__, url_prefix="/test/documented")

    class In(Schema):
        name = fields.String(required=True)

    class Out(Schema):
        id = fields.String()
        name = fields.String()

    @blp.post("")
    @idempotent
    @blp.arguments(In)
    @blp.response(201, Out)
    def make_documented(data: dict[str, Any]) -> dict[str, Any]:
        with calls.lock:
            calls.count += 1
        return {"id": str(uuid.uuid4()), "name": data["name"], "ignored": "not in the schema"}

    app.extensions["aicmp.api"].register_blueprint(blp)


@pytest.fixture
def calls(app: Flask) -> Calls:
    found = Calls()
    add_test_routes(app, found)
    return found


def test_a_repeat_returns_the_first_answer(client, calls):
    alpha = login(client, "alpha-user")
    first = client.post("/test/things", headers={**alpha, HEADER: "k-1"})
    again = client.post("/test/things", headers={**alpha, HEADER: "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and REPLAYED_HEADER not in first.headers
    assert again.headers[REPLAYED_HEADER] == "true"
    assert calls.count == 1

    other_user = client.post("/test/things", headers={**login(client, "beta-user"), HEADER: "k-1"})
    assert other_user.status_code == 201 and other_user.get_json()["owner"] == "beta-user"  # keys are per user
    other_key = client.post("/test/things", headers={**alpha, HEADER: "k-2"})
    no_key = client.post("/test/things", headers=alpha)
    assert len({r.get_json()["id"] for r in (first, other_user, other_key, no_key)}) == 4
    assert calls.count == 4


def test_the_same_key_on_another_route_is_refused(client, calls):
    alpha = login(client, "alpha-user")
    assert client.post("/test/things", headers={**alpha, HEADER: "shared"}).status_code == 201
    resp = client.post("/test/other-things", headers={**alpha, HEADER: "shared"})
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == HEADER


def test_the_same_key_with_other_content_is_refused_and_the_same_content_replays(client, calls):
    alpha = login(client, "alpha-user")
    first = client.post("/test/things?size=1", json={"name": "a"}, headers={**alpha, HEADER: "body"})
    assert first.status_code == 201
    same = client.post("/test/things?size=1", json={"name": "a"}, headers={**alpha, HEADER: "body"})
    assert same.headers[REPLAYED_HEADER] == "true" and same.get_json() == first.get_json()
    for changed in ({"json": {"name": "b"}, "path": "/test/things?size=1"},
                    {"json": {"name": "a"}, "path": "/test/things?size=2"}):
        resp = client.post(changed["path"], json=changed["json"], headers={**alpha, HEADER: "body"})
        assert resp.status_code == 422 and "other content" in resp.get_json()["errors"][0]["message"]
    assert calls.count == 1


def test_old_records_and_expired_revocations_are_forgotten(api_engine, client, calls, frozen):
    from datetime import timedelta

    from sqlalchemy import select

    from engine.maintenance import expire_records
    from engine.models import IdempotencyRecord, RevokedToken

    alpha = login(client, "alpha-user")
    assert client.post("/test/things", headers={**alpha, HEADER: "old"}).status_code == 201
    with api_engine.db.write() as s:
        s.add_all([RevokedToken(jti="lapsed", expires_at=frozen.now() + timedelta(minutes=30)),
                   RevokedToken(jti="long-lived", expires_at=frozen.now() + timedelta(days=7))])
    assert expire_records(api_engine) == 0
    frozen.advance(timedelta(days=2))
    assert expire_records(api_engine) == 2  # the day-old record and the lapsed revocation
    with api_engine.db.read() as s:
        assert list(s.scalars(select(IdempotencyRecord.key))) == []
        assert list(s.scalars(select(RevokedToken.jti))) == ["long-lived"]


@pytest.mark.parametrize("key", ["", "   ", "x" * 201])
def test_a_malformed_key_is_refused(client, calls, key):
    resp = client.post("/test/things", headers={**login(client, "alpha-user"), HEADER: key})
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == HEADER
    assert calls.count == 0


def test_a_failed_request_can_be_retried_with_its_key(client, calls):
    alpha = login(client, "alpha-user")
    calls.fail_next = True
    refused = client.post("/test/things", headers={**alpha, HEADER: "retry-me"})
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "name"
    ok = client.post("/test/things", headers={**alpha, HEADER: "retry-me"})
    assert ok.status_code == 201 and REPLAYED_HEADER not in ok.headers
    assert client.post("/test/things", headers={**alpha, HEADER: "retry-me"}).get_json() == ok.get_json()
    assert calls.count == 2


def test_a_key_needs_a_logged_in_user(client, calls):
    assert client.post("/test/things", headers={HEADER: "anon"}).status_code == 401
    assert calls.count == 0


def test_it_works_under_flask_smorest_and_is_documented(client, calls):
    alpha = login(client, "alpha-user")
    first = client.post("/test/documented", json={"name": "gpu-pool"}, headers={**alpha, HEADER: "doc-1"})
    again = client.post("/test/documented", json={"name": "gpu-pool"}, headers={**alpha, HEADER: "doc-1"})
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json() and set(first.get_json()) == {"id", "name"}
    assert calls.count == 1

    operation = client.get("/api/openapi.json").get_json()["paths"]["/test/documented"]["post"]
    assert {"in": "header", "name": HEADER} in [{k: p[k] for k in ("in", "name")} for p in operation["parameters"]]
    assert "requestBody" in operation  # the JSON body is still documented as the body


def test_a_pending_key_answers_409_after_the_wait(api_engine):
    assert claim(api_engine, "u-1", "slow", "POST /x") is None  # owns it, never completes
    started = time.monotonic()
    with pytest.raises(KeyInUse):
        claim(api_engine, "u-1", "slow", "POST /x", wait_s=0.3)
    assert time.monotonic() - started >= 0.3


def _race(app: Flask, headers: dict[str, str], calls: Calls, threads: int = 8) -> list[Any]:
    calls.delay = 0.3  # the first request is still running when its twins arrive
    barrier = threading.Barrier(threads)
    results: list[Any] = [None] * threads

    def one(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post("/test/things", headers={**headers, HEADER: "race"})
        results[i] = (resp.status_code, resp.get_json())

    workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    return results


def test_concurrent_duplicates_execute_once_on_sqlite(app, client, calls):
    results = _race(app, login(client, "alpha-user"), calls)
    assert calls.count == 1
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1


@pytest.mark.postgres
def test_concurrent_duplicates_execute_once_on_postgres(pg_app, pg_client):
    calls = Calls()
    add_test_routes(pg_app, calls)
    results = _race(pg_app, login(pg_client, "alpha-user"), calls)
    assert calls.count == 1
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
