"""The designer's API: validate and simulate files without deploying them, and the operator list."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.models import Deployment, ProcessDefinition
from tests.api.conftest import login

ROOT = Path(__file__).resolve().parents[3]
APPROVAL = {name: (ROOT / folder / name).read_bytes() for folder, name in (
    ("bpmn", "approval.bpmn"), ("forms", "application-approval-schema.json"),
    ("forms", "application-approval-uischema.json"))}
HAPPY_PATH = ["start", "defaults", "find_approvers", "org_approve", "record_org", "org_ok", "platform_approve",
              "record_platform", "platform_ok", "end_approved"]


def post(client, path: str, headers, files: dict[str, bytes] | None = None, **form):
    data = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in form.items()}
    if files:
        data["files"] = [(io.BytesIO(content), name) for name, content in files.items()]
    return client.post(f"/api/v1/process-definitions/{path}", data=data, headers=headers,
                        content_type="multipart/form-data")


def stored(engine) -> tuple[int, int]:
    with engine.db.read() as s:
        return (s.scalar(select(func.count()).select_from(ProcessDefinition)),
                s.scalar(select(func.count()).select_from(Deployment)))


def broken_approval() -> dict[str, bytes]:
    bpmn = APPROVAL["approval.bpmn"].replace(b'<bpmn:scriptTask id="defaults"', b'<bpmn:scriptTask id="defaults"', 1)
    script_start = bpmn.index(b"<bpmn:script>", bpmn.index(b'<bpmn:scriptTask id="defaults"'))
    bpmn = bpmn[:script_start] + b"<bpmn:script>import os\n" + bpmn[script_start + len(b"<bpmn:script>"):]
    return dict(APPROVAL, **{"approval.bpmn": bpmn})


def test_validate_answers_findings_for_a_broken_model_and_stores_nothing(client, api_engine):
    before = stored(api_engine)
    headers = login(client, "designer")
    resp = post(client, "validate", headers, broken_approval())
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["valid"] is False and isinstance(body["warnings"], list)
    assert any(e["file"] == "approval.bpmn" and e["element_id"] == "defaults" and e["line"]
               and "import" in e["message"] for e in body["errors"]), body["errors"]
    assert stored(api_engine) == before

    good = post(client, "validate", headers, APPROVAL).get_json()
    assert good == {"valid": True, "errors": [], "warnings": good["warnings"]}
    assert stored(api_engine) == before


def test_validate_refuses_malformed_requests_naming_the_field(client):
    headers = login(client, "designer")
    resp = client.post("/api/v1/process-definitions/validate", data={}, headers=headers,
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "files"


def test_validate_applies_the_deploy_size_limit(client, api_engine):
    big = APPROVAL["approval.bpmn"] + b"<!--" + b"x" * api_engine.settings.max_bpmn_bytes + b"-->"
    body = post(client, "validate", login(client, "designer"), {"approval.bpmn": big}).get_json()
    assert body["valid"] is False and "limit" in body["errors"][0]["message"]


def test_simulate_uploaded_files_follows_the_scripted_answers(client, api_engine):
    before = stored(api_engine)
    headers = login(client, "designer")
    body = post(client, "simulate", headers, APPROVAL).get_json()
    assert body["valid"] and body["completed"] and body["process"] == "approval", body
    assert body["path"] == HAPPY_PATH and body["labels"][0] == "Application submitted"
    assert body["stopped_at"] == [] and body["problem"] is None
    assert body["stubbed"] == ["applications/approvers", "applications/decision"]

    rejected = post(client, "simulate", headers, APPROVAL, tasks={"org_approve": {"decision": "reject"}},
                    stubs={"applications/decision": {}}).get_json()
    assert rejected["completed"] and rejected["path"][-1] == "end_rejected"
    assert "platform_approve" not in rejected["path"] and rejected["stubbed"] == ["applications/approvers"]
    assert stored(api_engine) == before


def test_simulate_an_approver_who_takes_too_long(client):
    """``late``: the organisation's approver answers after 30 days, so the drawn deadline fires first
    and the application is escalated instead."""
    headers = login(client, "designer")
    body = post(client, "simulate", headers, APPROVAL, late={"org_approve": "P30D"}).get_json()
    assert "approval_deadline" in body["path"] and "org_approve" not in body["path"], body
    assert "record_org" not in body["path"]


@pytest.mark.parametrize(("late", "message"), [
    ('{"org_approve": "soon"}', "org_approve: "),
    ('{"org_approve": "P9999Y"}', "org_approve: "),
    ('{"org_approve": 5}', "org_approve: "),
    ('["P1D"]', "a JSON object"),
])
def test_simulate_refuses_a_late_that_is_not_a_duration_naming_the_task(client, late, message):
    resp = post(client, "simulate", login(client, "designer"), APPROVAL, late=late)
    assert resp.status_code == 422, resp.get_json()
    [error] = resp.get_json()["errors"]
    assert error["field"] == "late" and message in error["message"]


def test_simulate_a_deployed_version_and_where_a_run_stops(client):
    headers = login(client, "designer")
    body = post(client, "simulate", headers, key="approval", version="1").get_json()
    assert body["completed"] and body["path"] == HAPPY_PATH, body
    stopped = post(client, "simulate", headers, key="approval", version="1", max_steps="4").get_json()
    assert not stopped["completed"] and "step limit" in stopped["problem"]
    assert stopped["path"] == HAPPY_PATH[:3]  # the fourth step is the user task with its deadline
    assert stopped["stopped_at"] == ["org_approve", "approval_deadline"]
    assert post(client, "simulate", headers, key="approval", version="99").status_code == 404


def test_simulate_never_runs_a_refused_script(client):
    body = post(client, "simulate", login(client, "designer"), broken_approval()).get_json()
    assert body["valid"] is False and body["path"] == [] and body["process"] is None
    assert any(e["element_id"] == "defaults" for e in body["errors"])


def test_simulate_refuses_malformed_requests_naming_the_field(client):
    headers = login(client, "designer")
    cases = [({}, {}, "files"), ({}, {"key": "approval"}, "version"),
             (APPROVAL, {"key": "approval", "version": "1"}, "key"),
             (APPROVAL, {"data": "{not json"}, "data"), (APPROVAL, {"data": "[1]"}, "data"),
             (APPROVAL, {"tasks": '{"org_approve": 1}'}, "tasks"), (APPROVAL, {"max_steps": "0"}, "max_steps")]
    for files, form, field in cases:
        resp = post(client, "simulate", headers, files, **form)
        assert resp.status_code == 422, (form, resp.get_json())
        assert field in json.dumps(resp.get_json()["errors"]), (form, resp.get_json())


def test_a_tenant_user_may_neither_validate_nor_simulate(client):
    user = login(client, "alpha-user")
    assert post(client, "validate", user, APPROVAL).status_code == 403
    assert post(client, "simulate", user, APPROVAL).status_code == 403
    assert post(client, "simulate", user, key="approval", version="1").status_code == 403


def test_the_operator_list(client):
    resp = client.get("/api/v1/operators", headers=login(client, "alpha-user"))
    assert resp.status_code == 200
    by_name = {op["name"]: op for op in resp.get_json()}
    assert {"orders/create", "applications/decision"} <= set(by_name)
    assert set(by_name["orders/create"]) == {"name", "description", "mode", "timeout_s"}
    assert by_name["orders/create"]["mode"] in ("inline", "async")
    assert [op["name"] for op in resp.get_json()] == sorted(by_name)


def test_the_operator_list_needs_process_definition_read(client, demo):
    admin = login(client, "alpha-admin")
    role = client.post("/api/v1/roles", headers=admin, json={"code": "auditor", "name": "Auditor",
                                                            "permissions": ["audit:read"], "data_scope": "all"})
    assert role.status_code == 201, role.get_json()
    assert client.post(f"/api/v1/users/{demo.user['alpha-user']}/roles", headers=admin,
                       json={"role_id": role.get_json()["id"]}).status_code == 201
    switched = client.post("/api/v1/auth/switch-role", headers=login(client, "alpha-user"), json={"role": "auditor"})
    assert switched.status_code == 200, switched.get_json()
    auditor = {"Authorization": f"Bearer {switched.get_json()['access_token']}"}
    assert client.get("/api/v1/operators", headers=auditor).status_code == 403
