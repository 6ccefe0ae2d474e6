"""``Idempotency-Key`` for create routes: a repeated request gets the first answer back.

Usage (below ``@requires``, above ``@blp.arguments``/``@blp.response`` so it sees the final
response)::

    @blp.post("/tenants")
    @requires("tenant:create")
    @idempotent
    @blp.arguments(TenantIn)
    @blp.response(201, TenantOut)
    def create_tenant(data): ...

How duplicates are kept from both running: before the view runs, a *pending* record keyed by
(user id, key) is committed; the primary key lets exactly one request insert it. A concurrent
duplicate finds the pending record and waits (up to ``WAIT_S``) for the first to finish, then
replays its answer; if the first is still running it gets 409 ``idempotency_key_in_use``. When
the view succeeds (2xx) its status and JSON body are stored; when it fails the pending record is
removed, so the client may retry with the same key (a failed request changed nothing: engine
errors roll their transaction back). A pending record is never taken over: if a process died
between the view's commit and storing the answer, re-running could create twice, so the key keeps
answering 409 and the client checks and uses a new key.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable
from copy import deepcopy
from typing import Any

from flask import Response, current_app, jsonify, request
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from api.security import current_principal, engine
from engine.core import Engine
from engine.errors import EngineError, InvalidInput
from engine.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
PENDING = 0  # status_code of a record whose request is still running
WAIT_S = 10.0
POLL_S = 0.05

_DOC_PARAMETER = {
    "in": "header", "name": HEADER, "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    "description": "Makes the request safe to retry: a repeat with the same key (same user, same route) "
                   "returns the first successful response instead of creating again.",
}


class KeyInUse(EngineError):
    status = 409
    code = "idempotency_key_in_use"


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a create view to honour the ``Idempotency-Key`` header (without it: unchanged)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        key = _valid_key(key)
        user_id = current_principal().user_id
        route = f"{request.method} {request.path}"[:200]
        eng = engine()
        stored = claim(eng, user_id, key, route, fingerprint())
        if stored is not None:
            return _replay(*stored)
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            release(eng, user_id, key)
            raise
        if 200 <= response.status_code < 300:
            complete(eng, user_id, key, response.status_code, response.get_json(silent=True))
        else:
            release(eng, user_id, key)
        return response

    wrapper._apidoc = deepcopy(getattr(view, "_apidoc", {}))  # type: ignore[attr-defined]
    wrapper._apidoc.setdefault("arguments", {}).setdefault("parameters", []).append(dict(_DOC_PARAMETER))
    return wrapper


def _valid_key(raw: str) -> str:
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        message = f"must be 1 to {MAX_KEY_LENGTH} printable characters"
        raise InvalidInput(f"{HEADER}: {message}", errors=[{"field": HEADER, "message": message}])
    return key


def fingerprint() -> str:
    """What the current request asks for: its query, JSON body, form fields and uploaded files' bytes
    (not the raw body: a multipart boundary differs between two sends of the same upload)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(sorted(request.args.items(multi=True))).encode())
    digest.update(json.dumps(request.get_json(silent=True), sort_keys=True, default=str).encode())
    digest.update(json.dumps(sorted(request.form.items(multi=True))).encode())
    for field, upload in sorted(request.files.items(multi=True), key=lambda item: (item[0], item[1].filename or "")):
        content = upload.stream.read()
        upload.stream.seek(0)
        digest.update(f"{field}\0{upload.filename}\0".encode() + hashlib.sha256(content).digest())
    return digest.hexdigest()


def claim(eng: Engine, user_id: str, key: str, route: str, request_fingerprint: str = "", *,
          wait_s: float = WAIT_S) -> tuple[int, Any] | None:
    """None: this request owns the key (a pending record is committed); else the stored (status, body).
    A repeat that asks for something else under the same key is refused (422)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with eng.db.write() as s:
                row = s.get(IdempotencyRecord, (user_id, key))
                if row is None:
                    s.add(IdempotencyRecord(user_id=user_id, key=key, route=route, fingerprint=request_fingerprint,
                                            status_code=PENDING, body=None))
                    s.flush()  # a concurrent twin's insert makes this (or its commit) fail on the primary key
                    return None
                if row.route != route:
                    raise InvalidInput(f"{HEADER} was already used for {row.route}",
                                       errors=[{"field": HEADER, "message": "already used for another request"}])
                if row.fingerprint != request_fingerprint:
                    raise InvalidInput(f"{HEADER} was already used for a different request to this route",
                                       errors=[{"field": HEADER, "message": "already used with other content"}])
                if row.status_code != PENDING:
                    return row.status_code, row.body
        except IntegrityError:
            continue  # the twin inserted first: read its record
        if time.monotonic() >= deadline:
            raise KeyInUse(f"a request with this {HEADER} is still being processed (or was interrupted): "
                           "check whether it took effect, then retry with a new key")
        time.sleep(POLL_S)


def complete(eng: Engine, user_id: str, key: str, status: int, body: Any) -> None:
    with eng.db.write() as s:
        row = s.get(IdempotencyRecord, (user_id, key))
        if row is not None:
            row.status_code = status
            row.body = body


def release(eng: Engine, user_id: str, key: str) -> None:
    with eng.db.write() as s:
        s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key,
                                                  IdempotencyRecord.status_code == PENDING))


def _replay(status: int, body: Any) -> Response:
    response = jsonify(body) if body is not None else Response(status=status)
    response.status_code = status
    response.headers[REPLAYED_HEADER] = "true"
    return response
