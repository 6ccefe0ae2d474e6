"""Process and inbox API over HTTP: deploy, export, start, isolation, the inbox, urging, races."""

from __future__ import annotations

import io
import threading

import pytest
from sqlalchemy import func, select

from engine.models import ProcessDefinition, TaskHistory
from tests.api.conftest import login
from tests.helpers import read

START_SCHEMA = b"""{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
 "properties": {"amount": {"type": "number"}, "mode": {"type": "string"}}}"""


def with_start_form(bpmn: bytes, form: str = "start-schema.json", start_id: bytes = b"start") -> bytes:
    """``bpmn`` whose none start event names ``form`` as its start form."""
    old = b'<bpmn:startEvent id="' + start_id + b'">'
    assert old in bpmn
    return bpmn.replace(old, old + b'<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property '
                        b'name="formJsonSchemaFilename" value="' + form.encode() + b'" /></spiffworkflow:properties>'
                        b'</bpmn:extensionElements>', 1)


# the seed deploys the product's own "approval" process: this test's copy gets a key of its own
APPROVAL = {"approval.bpmn": with_start_form(read("approval.bpmn").replace(b'process id="approval"',
                                                                          b'process id="review_flow"')),
            "start-schema.json": START_SCHEMA,
            "review-schema.json": read("review-schema.json"), "review-uischema.json": read("review-uischema.json")}


def upload(client, headers, files: dict[str, bytes]):
    data = {"files": [(io.BytesIO(content), name) for name, content in files.items()]}
    return client.post("/api/v1/process-definitions", data=data, headers=headers, content_type="multipart/form-data")


def deploy_approval(client, who: str = "designer", files: dict[str, bytes] = APPROVAL) -> dict:
    resp = upload(client, login(client, who), files)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def start(client, headers, **body):
    resp = client.post("/api/v1/process-instances", json={"key": "review_flow", "variables": {"amount": 10}, **body},
                       headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_deploy_list_versions_and_exact_xml(client):
    body = deploy_approval(client)
    assert body["definitions"] == [{"key": "review_flow", "version": 1, "created": True}]
    headers = login(client, "alpha-user")
    listed = client.get("/api/v1/process-definitions?key=review_f", headers=headers).get_json()
    assert [(d["key"], d["version"]) for d in listed["items"]] == [("review_flow", 1)] and listed["total"] == 1
    xml = client.get("/api/v1/process-definitions/review_flow/versions/1/xml", headers=headers)
    assert xml.status_code == 200 and xml.data == APPROVAL["approval.bpmn"]
    assert xml.mimetype == "application/xml"


def test_a_tenant_variant_is_invisible_to_other_tenants(client):
    deploy_approval(client)
    own = dict(APPROVAL, **{"approval.bpmn": APPROVAL["approval.bpmn"].replace(b"Simple approval", b"Alpha's")})
    assert deploy_approval(client, "alpha-admin", own)["definitions"][0]["version"] == 2
    beta = login(client, "beta-admin")
    assert client.get("/api/v1/process-definitions/review_flow/versions/2/xml", headers=beta).status_code == 404
    versions = client.get("/api/v1/process-definitions/review_flow/versions", headers=beta).get_json()
    assert [v["version"] for v in versions] == [1]
    alpha = login(client, "alpha-admin")
    alpha_versions = client.get("/api/v1/process-definitions/review_flow/versions", headers=alpha)
    assert [v["version"] for v in alpha_versions.get_json()] == [2, 1]


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>')
XXE = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>'


def _with_script(script: bytes) -> dict[str, bytes]:
    bpmn = APPROVAL["approval.bpmn"].replace(b"total = amount * Decimal('1.06')", script)
    return dict(APPROVAL, **{"approval.bpmn": bpmn})


def definitions(engine) -> int:
    with engine.db.read() as s:
        return s.scalar(select(func.count()).select_from(ProcessDefinition))


@pytest.mark.parametrize("files", [
    {"evil.bpmn": XXE},
    {"evil.bpmn": BILLION_LAUGHS},
    _with_script(b"import os"),
    _with_script(b"x = ().__class__.__base__.__subclasses__()"),
    _with_script(b"x = '{0.__globals__}'.format(len)"),
    _with_script(b"x = '{a}'.format_map({'a': 1})"),
], ids=["xxe", "entity-expansion", "import", "dunder-chain", "str-format", "format-map"])
def test_malicious_uploads_are_refused_and_nothing_is_deployed(client, api_engine, files):
    before = definitions(api_engine)
    resp = upload(client, login(client, "designer"), files)
    body = resp.get_json()
    assert resp.status_code == 400 and body["code"] == "deployment_rejected", body
    assert body["errors"] and all({"file", "line", "element_id", "message"} <= set(e) for e in body["errors"])
    assert definitions(api_engine) == before


def test_a_tenant_user_cannot_deploy(client):
    assert upload(client, login(client, "alpha-user"), APPROVAL).status_code == 403


def test_instances_are_tenant_scoped_and_managed_by_permission(client):
    deploy_approval(client)
    user = login(client, "alpha-user")
    inst = start(client, user, business_key="APP-7")
    detail = client.get(f"/api/v1/process-instances/{inst['id']}", headers=user).get_json()
    assert detail["status"] == "running" and [t["task_spec"] for t in detail["current_tasks"]] == ["review"]
    assert any(h["task_spec"] == "review" and h["state"] == "READY" for h in detail["history"])
    for who in ("beta-user", "beta-admin"):
        assert client.get(f"/api/v1/process-instances/{inst['id']}", headers=login(client, who)).status_code == 404
        assert client.post(f"/api/v1/process-instances/{inst['id']}/cancel",
                           headers=login(client, who)).status_code in (403, 404)
    assert client.post(f"/api/v1/process-instances/{inst['id']}/suspend", headers=user).status_code == 403
    admin = login(client, "alpha-admin")
    assert client.post(f"/api/v1/process-instances/{inst['id']}/suspend", headers=admin).get_json()["status"] == \
        "suspended"
    assert client.post(f"/api/v1/process-instances/{inst['id']}/resume", headers=admin).get_json()["status"] == \
        "running"
    listed = client.get("/api/v1/process-instances?business_key=APP-7", headers=admin).get_json()
    assert listed["total"] == 1


def test_the_inbox_validates_form_data_and_fills_the_done_tab(client):
    deploy_approval(client)
    inst = start(client, login(client, "alpha-user"))
    approver = login(client, "alpha-approver")
    todo = client.get("/api/v1/tasks?tab=todo", headers=approver).get_json()
    [task] = [t for t in todo["items"] if t["instance_id"] == inst["id"]]
    opened = client.get(f"/api/v1/tasks/{task['id']}", headers=approver).get_json()
    assert opened["schema"]["required"] == ["decision"] and opened["data"]["decision"] == "approve"

    bad = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "maybe"}}, headers=approver)
    assert bad.status_code == 422 and "$.decision" in str(bad.get_json()["errors"])
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=approver).status_code == 200  # still open

    done = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}},
                       headers=approver)
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    tab = client.get("/api/v1/tasks?tab=done", headers=approver).get_json()
    assert [t["id"] for t in tab["items"]] == [task["id"]]
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=login(client, "beta-user")).status_code == 404


def test_platform_staff_work_their_lanes_across_tenants(client):
    platform_lane = {**APPROVAL, "approval.bpmn": APPROVAL["approval.bpmn"].replace(
        b'<bpmn:lane id="lane_manager" name="approver">', b'<bpmn:lane id="lane_manager" name="platform_operator">')}
    deploy_approval(client, files=platform_lane)
    alpha = start(client, login(client, "alpha-user"))
    beta = start(client, login(client, "beta-user"))
    operator = login(client, "operator")
    todo = client.get("/api/v1/tasks", headers=operator).get_json()
    assert {t["instance_id"] for t in todo["items"]} == {alpha["id"], beta["id"]} and todo["total"] == 2
    assert client.get("/api/v1/tasks", headers=login(client, "alpha-approver")).get_json()["total"] == 0
    [task] = [t for t in todo["items"] if t["instance_id"] == beta["id"]]
    done = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}},
                       headers=operator)
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    assert client.get("/api/v1/tasks?tab=done", headers=operator).get_json()["total"] == 1
    assert client.get("/api/v1/tasks", headers=login(client, "designer")).status_code == 403  # no task:read


def test_urging_fills_the_urged_tab_and_is_rate_limited(client):
    deploy_approval(client)
    user = login(client, "alpha-user")
    inst = start(client, user)
    assert client.post(f"/api/v1/process-instances/{inst['id']}/urge", headers=login(client, "alpha-admin")
                       ).status_code == 404  # only the initiator
    urged = client.post(f"/api/v1/process-instances/{inst['id']}/urge", headers=user)
    assert urged.status_code == 200 and len(urged.get_json()["tasks"]) == 1
    tab = client.get("/api/v1/tasks?tab=urged", headers=login(client, "alpha-approver")).get_json()
    assert tab["total"] == 1 and tab["items"][0]["urged"]["by"] == "alpha-user"
    again = client.post(f"/api/v1/process-instances/{inst['id']}/urge", headers=user)
    assert again.status_code == 429 and again.get_json()["code"] == "too_many_requests"


def test_incidents_are_listed_and_retried(client):
    service = with_start_form(read("service.bpmn"))
    resp = upload(client, login(client, "designer"), {"service.bpmn": service, "start-schema.json": START_SCHEMA})
    assert resp.status_code == 201 and any("not registered" in w["message"] for w in resp.get_json()["warnings"])
    inst = client.post("/api/v1/process-instances", json={"key": "service_flow", "variables": {"amount": 1,
                       "mode": "x"}}, headers=login(client, "alpha-user")).get_json()
    assert inst["status"] == "incident"
    operator = login(client, "operator")
    incidents = client.get("/api/v1/incidents", headers=operator).get_json()
    [incident] = [i for i in incidents["items"] if i["instance_id"] == inst["id"]]
    assert incident["kind"] == "operator-missing"
    retried = client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=operator)
    assert retried.status_code == 200 and retried.get_json()["status"] == "incident"
    assert client.get("/api/v1/incidents", headers=login(client, "beta-admin")).get_json()["total"] == 0


@pytest.mark.postgres
def test_twenty_clients_completing_one_task_get_one_success_and_409s(pg_app, pg_api_engine):
    client = pg_app.test_client()
    deploy_approval(client)
    inst = start(client, login(client, "alpha-user"))
    approver = login(client, "alpha-approver")
    [task] = client.get("/api/v1/tasks", headers=approver).get_json()["items"]
    barrier = threading.Barrier(20)
    codes: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        c = pg_app.test_client()
        barrier.wait()
        code = c.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "reject"}},
                      headers=approver).status_code
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [200] + [409] * 19, codes
    with pg_api_engine.db.read() as s:
        completed = s.scalar(select(func.count()).select_from(TaskHistory).where(
            TaskHistory.instance_id == inst["id"], TaskHistory.task_spec == "review",
            TaskHistory.state == "COMPLETED"))
    assert completed == 1
