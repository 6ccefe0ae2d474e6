"""Hostile input never makes the API answer 5xx (issue 10, item 5).

Each test reproduces a finding of the security review (all gave 500 before): JSON nested ~1,000
deep, a 5,000-digit integer and a lone surrogate in a JSON string, on the unauthenticated login;
a script leaving task data the instance cannot store (bytes, a tuple-keyed dict, a huge int, ...),
which failed the save. Request limits: api/input_limits.py; task data: engine/runtime/storable.py.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import flask_smorest
import pytest

from api.blueprints import Blueprint
from api.input_limits import MAX_INT, MAX_INT_DIGITS, MAX_JSON_DEPTH, loads
from engine.errors import InvalidInput
from tests.api.conftest import login

LOGIN = "/api/v1/auth/login"


def post_raw(client, url: str, body: str | bytes, content_type: str = "application/json",
             headers: dict[str, str] | None = None):
    return client.post(url, data=body, content_type=content_type, headers=headers or {})


def refused(resp, status: int = 422) -> dict[str, Any]:
    """The one error shape, with the given status."""
    body = resp.get_json()
    assert resp.status_code == status, (resp.status_code, resp.data[:300])
    assert set(body) == {"code", "message", "errors"}, body
    return body


# -- the findings, on /auth/login (no token needed) ------------------------------------------------

@pytest.mark.parametrize("body", [
    "[" * 1000 + "]" * 1000,
    '{"username": "admin", "password": "x", "extra": ' + "[" * 1000 + "]" * 1000 + "}",
    '{"username": "admin", "password": "x", "extra": ' + '{"a":' * 1000 + "1" + "}" * 1000 + "}",
    "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
], ids=["array-1000", "in-object-1000", "objects-1000", "just-over-limit"])
def test_deeply_nested_json_is_refused_not_a_500(client, body):
    found = refused(post_raw(client, LOGIN, body))
    assert found["code"] == "invalid_input" and f"nested deeper than {MAX_JSON_DEPTH} levels" in found["message"]


def test_nesting_up_to_the_limit_is_fine(client):
    deep = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    resp = post_raw(client, LOGIN, '{"username": "nobody", "password": "x", "extra": ' + deep + "}")
    assert resp.status_code == 422 and "nested" not in resp.get_json()["message"]  # only: unknown field "extra"


def test_a_huge_integer_is_refused_naming_the_field(client):
    found = refused(post_raw(client, LOGIN, '{"username": ' + "1" * 5000 + ', "password": "x"}'))
    assert found["errors"] == [{"field": "username", "message": f"integer has more than {MAX_INT_DIGITS} digits"}]
    found = refused(post_raw(client, LOGIN, '{"username": "a", "password": "x", "n": [1, -' + "9" * 101 + "]}"))
    assert found["errors"][0]["field"] == "n.1"


@pytest.mark.parametrize("literal, message", [
    ("1e999", "out of range"), ("-1e999", "out of range"), ("NaN", "not a JSON number"),
    ("Infinity", "not a JSON number"), ("-Infinity", "not a JSON number"),
    ("0." + "1" * 200, "longer than"),
])
def test_numbers_that_are_no_finite_json_number_are_refused(client, literal, message):
    found = refused(post_raw(client, LOGIN, '{"username": "a", "password": ' + literal + "}"))
    assert found["errors"][0]["field"] == "password" and message in found["errors"][0]["message"]


@pytest.mark.parametrize("body, field", [
    ('{"username": "\\ud800", "password": "x"}', "username"),
    ('{"username": "a\\udfffb", "password": "x"}', "username"),
    ('{"username": "a", "password": "x", "k": {"\\ud800": 1}}', "k.\\ud800"),
    ('{"username": "a\\u0000", "password": "x"}', "username"),
], ids=["lone-high", "lone-low", "in-a-key", "nul"])
def test_lone_surrogates_and_nul_in_json_are_refused(client, body, field):
    found = refused(post_raw(client, LOGIN, body))
    assert found["errors"][0]["field"] == field, found
    assert "surrogate" in found["message"] or "NUL" in found["message"]


def test_a_surrogate_pair_and_other_unicode_are_fine(client):
    resp = post_raw(client, LOGIN, '{"username": "\\ud83d\\ude00 caf\\u00e9", "password": "x"}')
    assert resp.status_code == 401  # parsed, then simply a wrong login


# -- everywhere, not only on login -----------------------------------------------------------------

def test_the_limits_hold_on_authenticated_json_routes_and_for_get_json_readers(client):
    headers = login(client, "admin")
    for url in ("/api/v1/process-instances", "/api/v1/tenants", "/api/v1/site-messages/read-all"):
        for body in ("[" * 1000 + "]" * 1000, '{"key": ' + "7" * 5000 + "}", '{"key": "\\ud800"}'):
            resp = post_raw(client, url, body, headers={**headers, "Idempotency-Key": "k-1"})
            assert resp.status_code == 422, (url, resp.status_code, resp.data[:200])


def test_nul_in_query_path_and_form_fields_is_refused(client):
    headers = login(client, "admin")
    found = refused(client.get("/api/v1/process-instances?business_key=a%00b", headers=headers))
    assert found["errors"] == [{"field": "business_key", "message": "contains U+0000 (NUL), which is not allowed"}]
    refused(client.get("/api/v1/process-instances/abc%00def", headers=headers))
    data = {"files": [(io.BytesIO(b"<x/>"), "x.bpmn")], "name": "dep\x00loy"}
    found = refused(client.post("/api/v1/process-definitions", data=data, headers=headers,
                                content_type="multipart/form-data"))
    assert found["errors"][0]["field"] == "name"


@pytest.mark.postgres
def test_nul_in_query_and_form_fields_never_reaches_postgresql(pg_client):
    """PostgreSQL text cannot hold U+0000: before, these were 500s there."""
    headers = login(pg_client, "admin")
    assert pg_client.get("/api/v1/process-instances?business_key=%00", headers=headers).status_code == 422
    assert pg_client.get("/api/v1/process-instances/%00", headers=headers).status_code == 422
    body = '{"key": "x", "business_key": "a\\u0000"}'
    assert post_raw(pg_client, "/api/v1/process-instances", body, headers=headers).status_code == 422


# -- wrong and odd content types -------------------------------------------------------------------

@pytest.mark.parametrize("content_type, body, status", [
    ("text/plain", '{"username": "admin", "password": "x"}', None),  # not JSON: 415 or "fields missing"
    ("application/x-www-form-urlencoded", "username=admin&password=x", None),
    ("application/x-www-form-urlencoded", "username=a%00&password=x", None),
    ("multipart/form-data; boundary=zz",
     '--zz\r\nContent-Disposition: form-data; name="u"\r\n\r\na\x00\r\n--zz--\r\n', None),
    ("application/octet-stream", b"\x00\x01\x02", None),
    ("application/json", b'{"username": "\xed\xa0\x80", "password": "x"}', 400),  # UTF-8 of a surrogate
    ("application/json", b'{"username": "\xff", "password": "x"}', 400),
    ("application/json", b"\xef\xbb\xbf{}", 400),  # a BOM
    ("application/json", "{'username': 'admin'}", 400),
    ("application/json", '{"username": "admin", "password": "x"', 400),
    ("application/json; charset=utf-16", '{"username": "a", "password": "x"}'.encode("utf-16"), 400),
    ("application/merge-patch+json", "[" * 1000 + "]" * 1000, 422),  # +json is JSON too
    ("application/json", "", 422),  # no body: the fields are missing
], ids=["text", "form", "form-nul", "multipart-nul", "octet-stream", "utf8-surrogate", "bad-utf8", "bom",
        "single-quotes", "truncated", "utf-16", "plus-json-deep", "empty"])
def test_wrong_content_types_are_a_4xx_with_the_error_shape(client, content_type, body, status):
    resp = post_raw(client, LOGIN, body, content_type)
    found = refused(resp, status or resp.status_code)
    assert 400 <= resp.status_code < 500
    if status == 400:
        assert found["message"].startswith("invalid JSON body")


def test_an_upload_route_sent_json_names_the_missing_files(client):
    found = refused(post_raw(client, "/api/v1/process-definitions", '{"files": []}', headers=login(client, "designer")))
    assert "files" in found["message"]


# -- what the limits keep working ------------------------------------------------------------------

def test_money_fields_still_parse_exactly(client, api_engine):
    from tests.api.conftest import Shop

    shop = Shop(client, api_engine)
    admin = shop.headers("admin")
    url = f"/api/v1/tenants/{shop.tenant['alpha']}/quota"
    body = '{"totals": {"vcpu": 0.1, "memory_gib": "123456789012.345", "disk_gib": 1e3, "gpus": 16}}'
    resp = client.put(url, data=body, content_type="application/json", headers=admin)
    assert resp.status_code == 200, resp.get_json()
    dims = client.get(url, headers=admin).get_json()["dimensions"]
    assert Decimal(dims["vcpu"]["total"]) == Decimal("0.1")
    assert Decimal(dims["memory_gib"]["total"]) == Decimal("123456789012.345")
    assert Decimal(dims["disk_gib"]["total"]) == Decimal("1000")
    for bad in ("1e308", '"1e999999"', '"NaN"', "-1", '"' + "9" * 5000 + '"'):
        resp = client.put(url, data='{"totals": {"vcpu": ' + bad + "}}", content_type="application/json",
                          headers=admin)
        assert resp.status_code == 422, (bad, resp.status_code, resp.data[:200])


def test_loads_keeps_the_stdlib_types():
    big = str(MAX_INT).encode()
    value = loads(b'{"i": -12, "f": 0.5, "e": 1E+3, "big": ' + big + b', "t": [true, null, "\\u00e9"]}')
    assert value == {"i": -12, "f": 0.5, "e": 1000.0, "big": MAX_INT, "t": [True, None, "é"]}
    assert type(value["f"]) is float and type(value["big"]) is int


@pytest.mark.parametrize("literal", [str(MAX_INT + 1), str(-MAX_INT - 1), "9" * MAX_INT_DIGITS])
def test_an_integer_no_database_column_holds_is_refused_naming_its_place(literal):
    with pytest.raises(InvalidInput) as refused:
        loads(b'{"sort_order": ' + literal.encode() + b'}')
    assert refused.value.errors[0]["field"] == "sort_order"


def test_every_blueprint_parses_through_the_limits(app):
    plain = [name for name, bp in app.blueprints.items()
             if isinstance(bp, flask_smorest.Blueprint) and not isinstance(bp, Blueprint)]
    assert not plain, f"make these with api.blueprints.Blueprint: {plain}"


# -- task data a script leaves that the instance cannot store --------------------------------------

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')


def leaky_flow(key: str, *scripts: str) -> bytes:
    """start -> a script task per script (s0, s1, ...) -> user task "hold" -> end."""
    ids = ["start", *[f"s{i}" for i in range(len(scripts))], "hold", "end"]
    nodes = ['<bpmn:startEvent id="start"/>']
    nodes += [f'<bpmn:scriptTask id="s{i}" name="Script {i}"><bpmn:script>{escape(script)}</bpmn:script>'
              f"</bpmn:scriptTask>" for i, script in enumerate(scripts)]
    nodes += ['<bpmn:userTask id="hold" name="Hold"/>', '<bpmn:endEvent id="end"/>']
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                    for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False)))
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="d_{key}" '
            f'targetNamespace="http://aicmp.test"><bpmn:process id="{key}" isExecutable="true">'
            f'{"".join(nodes)}{flows}</bpmn:process></bpmn:definitions>').encode()


def deploy_and_start(client, key: str, *scripts: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Deploy as the tenant's admin through the process API, then start as that admin (no 5xx either)."""
    admin = login(client, "alpha-admin")
    data = {"files": [(io.BytesIO(leaky_flow(key, *scripts)), f"{key}.bpmn")]}
    resp = client.post("/api/v1/process-definitions", data=data, headers=admin, content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    resp = client.post("/api/v1/process-instances", json={"key": key}, headers=admin)
    assert resp.status_code == 201, resp.get_json()
    return admin, resp.get_json()


def open_incidents(client, headers, instance_id: str) -> list[dict[str, Any]]:
    resp = client.get(f"/api/v1/incidents?instance_id={instance_id}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]


@pytest.mark.parametrize("script, says", [
    ("x = b'abc'", "x holds bytes"),
    ("x = 'abc'.encode()", "x holds bytes"),
    ("d = {(1, 2): 3}", "d has a tuple key (1, 2)"),
    ("d = {'ok': {1: 'one'}}", "d['ok'] has an int key 1"),
    ("n = int('9' * 200)", "n holds an int of more than 100 digits"),
    ("f = float('nan')", "f holds the float nan"),
    ("f = [float('inf')]", "f[0] holds the float inf"),
    ("x = Decimal('NaN')", "x holds Decimal('NaN')"),
    ("s = {1, 2}", "s holds a set"),
    ("r = range(3)", "r holds a range object"),
    ("e = ValueError('boom')", "e holds a ValueError object"),
    ("s = chr(0xd800)", "s holds a str containing a lone UTF-16 surrogate"),
    ("s = 'a' + chr(0)", "s holds a str containing U+0000 (NUL)"),
    ("x = []\nfor i in range(1000):\n    x = [x]", "x is nested deeper than 64 levels"),
], ids=["bytes", "encoded", "tuple-key", "int-key", "huge-int", "nan", "inf", "decimal-nan", "set", "range",
        "exception", "surrogate", "nul", "deep"])
def test_a_script_leaving_unstorable_task_data_is_an_incident_naming_the_variable(client, script, says):
    admin, inst = deploy_and_start(client, "leaky", "ok = 1", script)
    assert inst["status"] == "incident"
    [incident] = open_incidents(client, admin, inst["id"])
    assert incident["kind"] == "script-error" and incident["task_spec"] == "s1"
    assert f"the script left task data that cannot be stored: {says}" in incident["message"], incident["message"]

    detail = client.get(f"/api/v1/process-instances/{inst['id']}", headers=admin)  # still loadable
    assert detail.status_code == 200 and detail.get_json()["status"] == "incident"
    operator = login(client, "operator")  # may retry incidents (a tenant admin may not)
    retried = client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=operator)  # runs the script again
    assert retried.status_code == 200 and retried.get_json()["status"] == "incident"
    assert len(open_incidents(client, admin, inst["id"])) == 1
    cancelled = client.post(f"/api/v1/process-instances/{inst['id']}/cancel", headers=admin)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"


def test_an_in_place_change_is_caught_when_the_instance_is_saved(client):
    """The script check sees rebound variables; a value changed in place is found at save, removed
    from the data and reported as its own incident: the rest of the instance goes on."""
    admin, inst = deploy_and_start(client, "mutating", "items = []\nkeep = 'yes'", "items.append(b'x')")
    assert inst["status"] == "incident"
    [incident] = open_incidents(client, admin, inst["id"])
    assert incident["kind"] == "unstorable-data" and incident["task_spec"] == "s1"
    assert "items[0] holds bytes" in incident["message"] and "variable 'items' is no longer set" in incident["message"]
    retried = client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=login(client, "operator"))
    assert retried.status_code == 200 and retried.get_json()["status"] == "running"
    todo = client.get(f"/api/v1/process-instances/{inst['id']}", headers=admin).get_json()["current_tasks"]
    assert [t["task_spec"] for t in todo] == ["hold"]


def test_storable_task_data_still_runs_through(client):
    admin, inst = deploy_and_start(client, "fine", "t = (1, 'two')\nd = {'a': [Decimal('1.10'), None, True]}\n"
                                   "n = int('9' * 100)\nu = 'caf\\u00e9 \\U0001f600'")
    assert inst["status"] == "running" and open_incidents(client, admin, inst["id"]) == []
