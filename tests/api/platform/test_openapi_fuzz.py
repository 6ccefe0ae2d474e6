"""Schemathesis over the whole OpenAPI document: whatever it sends, the API never answers 5xx.

Runs as a platform admin (every permission) against a seeded database, in-process (WSGI).
Bad input must come back as a 4xx naming the problem in the one error shape (``errors`` always a
list); a 500 here is a bug. ``AICMP_FUZZ_EXAMPLES`` examples per operation (default 30: about
30 s of CPU for the ~100 operations, a minute of wall time on a busy 2-core machine).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from api import create_app
from api.input_limits import MAX_INT_DIGITS, MAX_JSON_DEPTH
from tests.api.conftest import login, make_api_engine

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
EXAMPLES = int(os.environ.get("AICMP_FUZZ_EXAMPLES", "30"))


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory):
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    engine = make_api_engine(f"sqlite:///{tmp / 'fuzz.db'}", tmp)
    app = create_app(engine=engine)
    yield app
    engine.close()


def _operations(app) -> list:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_no_input_makes_the_api_fail_with_5xx(fuzz_app):
    """Every operation, with generated valid and invalid input. (Schemathesis' pytest plugin does not
    run under pytest 9, so each operation's strategy is driven by Hypothesis directly.)"""
    failures: list[str] = []
    operations = _operations(fuzz_app)
    assert len(operations) > 50, "the OpenAPI document lost its operations"
    statuses: dict[int, int] = {}
    for operation in operations:
        headers = login(fuzz_app.test_client(), "admin")  # afresh: a fuzzed logout revokes the last token

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            case.headers = {**(case.headers or {}), **headers}  # ours, not a generated Authorization
            response = case.call_and_validate(checks=[not_a_server_error])
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 400:
                body = json.loads(response.content)  # the stdlib: the app's own parser refuses echoed NULs
                assert isinstance(body.get("code"), str) and isinstance(body.get("message"), str), body
                assert isinstance(body.get("errors"), list), f"errors is not a list: {body}"

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every failing operation, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc).splitlines()[0][:300]}")
    assert not failures, "\n".join(failures)
    authorized = sum(n for code, n in statuses.items() if code not in (401, 403))
    assert authorized > sum(statuses.values()) // 2, f"most requests never got past authentication: {statuses}"


# -- hostile shapes, generated for every operation (issue 10, item 5) ------------------------------
#
# Schemathesis generates each operation's case (path, query, body); Hypothesis then makes it hostile
# one way: a JSON body carrying a limit-breaking literal (nesting past MAX_JSON_DEPTH, an integer past
# MAX_INT_DIGITS, a lone surrogate, NUL, NaN/Infinity/1e999) where a generated value was, the body
# sent with a wrong content type, or NUL in a query or path parameter. The limits apply before any
# view (api/input_limits.py), so a hostile JSON body or query is a 422 on every operation.

HOSTILE_EXAMPLES = int(os.environ.get("AICMP_FUZZ_HOSTILE_EXAMPLES", "8"))
_MARK = "\u2063hostile\u2063"

_DEEP = st.integers(MAX_JSON_DEPTH + 1, 3000).flatmap(
    lambda n: st.sampled_from(["[" * n + "]" * n, '{"a":' * n + "1" + "}" * n, "[{" * (n // 2) + "}]" * (n // 2)]))
_HUGE_INT = st.tuples(st.sampled_from(["", "-"]), st.integers(MAX_INT_DIGITS + 1, 6000)).map(
    lambda t: t[0] + "9" * t[1])
_SURROGATE = st.integers(0xD800, 0xDFFF).flatmap(
    lambda c: st.sampled_from([f'"\\u{c:04x}"', f'"text \\u{c:04X} more"', f'{{"\\u{c:04x}": 1}}']))
_NUL = st.sampled_from(['"\\u0000"', '"a\\u0000b"', '{"k\\u0000": true}'])
_NON_FINITE = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1E400", "0." + "1" * 150])
HOSTILE_LITERALS = st.one_of(_DEEP, _HUGE_INT, _SURROGATE, _NUL, _NON_FINITE)
WRONG_CONTENT_TYPES = st.sampled_from([
    "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=zz",
    "application/octet-stream", "application/json; charset=utf-16", "application/vnd.api+json", "",
])


def _embed(body, literal: str, where: int) -> str:
    """The generated body as JSON text, with ``literal`` in place of one of its values (or as the body)."""
    if isinstance(body, dict) and body:
        keys = sorted(body, key=str)
        doc = {**body, keys[where % len(keys)]: _MARK}
    elif isinstance(body, list) and body:
        doc = [*body[: where % len(body)], _MARK]
    else:
        doc = _MARK
    return json.dumps(doc, default=str).replace(json.dumps(_MARK), literal, 1)


def _plain_body(case) -> bytes:
    try:
        return json.dumps(case.body, default=str).encode()
    except (TypeError, ValueError):
        return b"\x00\xff not json"


def test_hostile_shapes_never_make_the_api_fail_with_5xx(fuzz_app):
    failures: list[str] = []
    seen: dict[tuple[str, int], int] = {}
    client = fuzz_app.test_client()
    for operation in _operations(fuzz_app):
        headers = login(client, "admin")  # afresh: a logout sent with a wrong content type may have worked

        @given(case=operation.as_strategy(), literal=HOSTILE_LITERALS, where=st.integers(0, 50),
               how=st.sampled_from(["body", "body", "content-type", "query", "path"]),
               content_type=WRONG_CONTENT_TYPES)
        @settings(max_examples=HOSTILE_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case, literal: str, where: int, how: str, content_type: str) -> None:
            path, query = case.formatted_path, dict(case.query or {})
            data: str | bytes = b""
            media = None
            expect: tuple[int, ...] | None = None  # None: any status below 500
            if how == "body":
                data, media, expect = _embed(case.body, literal, where), "application/json", (422,)
            elif how == "content-type":
                data, media = _plain_body(case), content_type or None
            elif how == "query":
                names = sorted(query) or ["q"]
                query[names[where % len(names)]] = "a\x00b"
                expect = (422,)
            elif case.path_parameters:  # path
                name = sorted(case.path_parameters)[where % len(case.path_parameters)]
                path = case.operation.path.format(**{**case.path_parameters, name: "a%00b"})
                expect = (404, 422)  # an <int:...> converter does not match at all
            response = client.open(path, method=case.method.upper(), query_string=query, data=data,
                                   content_type=media, headers=headers)
            seen[how, response.status_code] = seen.get((how, response.status_code), 0) + 1
            assert response.status_code < 500, f"{how}: {response.status_code} {response.data[:300]!r}"
            if expect is not None:
                assert response.status_code in expect, f"{how}: {response.status_code} {response.data[:300]!r}"
            if response.status_code >= 400:
                body = response.get_json()
                assert isinstance(body, dict) and {"code", "message", "errors"} <= set(body), body

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every failing operation, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc).splitlines()[0][:300]}")
    assert not failures, "\n".join(failures)
    refused = sum(n for (how, status), n in seen.items() if how in ("body", "query") and status == 422)
    assert refused > sum(seen.values()) // 3, f"too few hostile requests were sent: {seen}"
