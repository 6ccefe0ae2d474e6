"""Who may start what, and what a process's operators may reach, probed as a hostile tenant would.

Each test reproduces a finding of the security review: internal processes started directly with
any variables, another tenant's application changed by a tenant's own BPMN, a colleague's draft
submitted, a phishing site message sent into another tenant, unchecked start variables.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from engine.domains.applications.models import Application
from engine.models import Incident, ProcessInstance
from tests.api.applications.test_applications import create, kinds

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')
START_FORM = b"""{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
 "required": ["application_id"],
 "properties": {"application_id": {"type": "string"}, "tenant": {"type": "string"}}}"""


def operator_flow(key: str, calls: list[tuple[str, dict[str, str]]], *, starters: str | None = None,
                  call_activity: str | None = None) -> bytes:
    """A process whose start form takes ``application_id`` and whose service tasks call ``calls``
    (operator, {parameter: expression}) in order; optionally a call activity first."""
    props = (f'<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property '
             f'name="candidateStarterGroups" value="{starters}"/></spiffworkflow:properties>'
             f'</bpmn:extensionElements>') if starters is not None else ""
    nodes = ['<bpmn:startEvent id="start"><bpmn:extensionElements><spiffworkflow:properties>'
             '<spiffworkflow:property name="formJsonSchemaFilename" value="boundary-start.json"/>'
             '</spiffworkflow:properties></bpmn:extensionElements></bpmn:startEvent>']
    ids = ["start"]
    if call_activity:
        nodes.append(f'<bpmn:callActivity id="sub" calledElement="{call_activity}"/>')
        ids.append("sub")
    for i, (operator, params) in enumerate(calls):
        ps = "".join(f'<spiffworkflow:parameter id="{n}" type="str" value="{v}"/>' for n, v in params.items())
        nodes.append(f'<bpmn:serviceTask id="call{i}"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator '
                     f'id="{operator}" resultVariable="r{i}"><spiffworkflow:parameters>{ps}'
                     f'</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>'
                     f'</bpmn:serviceTask>')
        ids.append(f"call{i}")
    nodes.append('<bpmn:endEvent id="end"/>')
    ids.append("end")
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                    for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False)))
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="d_{key}" '
            f'targetNamespace="http://aicmp.test"><bpmn:process id="{key}" isExecutable="true">{props}'
            f'{"".join(nodes)}{flows}</bpmn:process></bpmn:definitions>').encode()


def deploy(shop: Any, who: str, key: str, bpmn: bytes) -> None:
    files = {f"{key}.bpmn": bpmn, "boundary-start.json": START_FORM}
    data = {"files": [(io.BytesIO(content), name) for name, content in files.items()]}
    resp = shop.client.post("/api/v1/process-definitions", data=data, headers=shop.headers(who),
                            content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()


def start(shop: Any, who: str, key: str, variables: dict[str, Any], business_key: str | None = None) -> Any:
    return shop.client.post("/api/v1/process-instances", headers=shop.headers(who),
                            json={"key": key, "variables": variables, "business_key": business_key})


def app_row(shop: Any, app_id: str) -> Application:
    with shop.engine.db.read() as s:
        return s.get(Application, app_id)


def incident_codes(shop: Any, instance_id: str) -> list[str | None]:
    with shop.engine.db.read() as s:
        return list(s.scalars(select(Incident.error_code).where(Incident.instance_id == instance_id)))


# -- who may start what ------------------------------------------------------------------------

def test_internal_processes_refuse_a_direct_start_whatever_the_variables(shop: Any) -> None:
    draft = create(shop).get_json()
    for key, variables in (("approval", {"approval_timeout": "P99999999Y"}),
                           ("application", {"application_id": draft["id"]}), ("order", {})):
        for who in ("alpha-user", "alpha-admin", "beta-user"):
            resp = start(shop, who, key, variables, business_key=draft["id"])
            assert resp.status_code == 403, (key, who, resp.get_json())
            assert resp.get_json()["code"] == "forbidden"
    with shop.engine.db.read() as s:
        assert s.scalars(select(ProcessInstance)).all() == []
    assert app_row(shop, draft["id"]).status == "draft"


def test_a_tenant_variant_of_an_internal_process_is_internal_too(shop: Any) -> None:
    deploy(shop, "alpha-admin", "order", operator_flow("order", []))
    resp = start(shop, "alpha-user", "order", {"application_id": "x"})
    assert resp.status_code == 403


def test_a_process_calling_an_internal_process_cannot_be_started(shop: Any) -> None:
    deploy(shop, "alpha-admin", "wrapper", operator_flow("wrapper", [], call_activity="approval"))
    resp = start(shop, "alpha-user", "wrapper", {"application_id": "x"})
    assert resp.status_code == 403 and "approval" in resp.get_json()["message"]


def test_declared_starters_only(shop: Any) -> None:
    deploy(shop, "alpha-admin", "admins_only", operator_flow("admins_only", [], starters="tenant_admin, approver"))
    assert start(shop, "alpha-user", "admins_only", {"application_id": "x"}).status_code == 403
    assert start(shop, "alpha-approver", "admins_only", {"application_id": "x"}).status_code == 201
    assert start(shop, "alpha-admin", "admins_only", {"application_id": "x"}).status_code == 201


def test_start_variables_must_match_the_start_form(shop: Any) -> None:
    deploy(shop, "alpha-admin", "formed", operator_flow("formed", []))
    unknown = start(shop, "alpha-user", "formed", {"application_id": "x", "approval_timeout": "P1D"})
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.get_json()["errors"]] == ["variables.approval_timeout"]
    ill_typed = start(shop, "alpha-user", "formed", {"application_id": 10**30})
    assert ill_typed.status_code == 422 and ill_typed.get_json()["errors"][0]["field"] == "variables.application_id"
    missing = start(shop, "alpha-user", "formed", {})
    assert missing.status_code == 422
    with shop.engine.db.read() as s:
        assert s.scalars(select(ProcessInstance)).all() == []


def test_a_process_without_a_start_form_takes_no_variables(shop: Any) -> None:
    bare = operator_flow("bare", []).replace(
        b'<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formJsonSchemaFilename" '
        b'value="boundary-start.json"/></spiffworkflow:properties></bpmn:extensionElements>', b"")
    deploy(shop, "alpha-admin", "bare", bare)
    resp = start(shop, "alpha-user", "bare", {"x": {"typename": "Decimal"}})
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "variables.x"
    assert start(shop, "alpha-user", "bare", {}).status_code == 201


# -- operators reach only their instance's tenant and object -------------------------------------

HOSTILE_CALLS = [
    ("quota/release", {"application_id": "application_id"}),
    ("applications/mark", {"application_id": "application_id", "status": "'cancelled'"}),
    ("notify/application", {"application_id": "application_id", "event": "'cancelled'"}),
]


def test_a_tenants_own_bpmn_cannot_touch_another_tenants_application(shop: Any) -> None:
    victim = create(shop, submit=True).get_json()
    before = app_row(shop, victim["id"])
    assert before.status == "pending" and before.quota_state == "reserved"
    alpha_admin_messages = len(kinds(shop, "alpha-admin"))
    for i, call in enumerate(HOSTILE_CALLS):
        key = f"hostile{i}"
        deploy(shop, "beta-admin", key, operator_flow(key, [call]))
        resp = start(shop, "beta-admin", key, {"application_id": victim["id"]}, business_key=victim["id"])
        assert resp.status_code == 201, resp.get_json()
        assert resp.get_json()["status"] == "incident"
        assert incident_codes(shop, resp.get_json()["id"])  # refused: the id is unknown in beta
    after = app_row(shop, victim["id"])
    assert (after.status, after.quota_state, after.reserved) == ("pending", "reserved", before.reserved)
    assert len(kinds(shop, "alpha-admin")) == alpha_admin_messages
    assert Decimal(shop.quota("alpha", None, "gpus")["in_process"]) == Decimal(before.reserved["gpus"])


def test_a_user_cannot_act_on_a_colleagues_draft(shop: Any) -> None:
    colleague = create(shop, user="alpha-admin").get_json()
    deploy(shop, "alpha-admin", "sneaky", operator_flow("sneaky", [
        ("applications/mark", {"application_id": "application_id", "status": "'pending'"})]))
    resp = start(shop, "alpha-user", "sneaky", {"application_id": colleague["id"]}, business_key=colleague["id"])
    assert resp.status_code == 201 and resp.get_json()["status"] == "incident"
    assert app_row(shop, colleague["id"]).status == "draft"
    direct = start(shop, "alpha-user", "application", {"application_id": colleague["id"]},
                   business_key=colleague["id"])
    assert direct.status_code == 403
    submit = shop.client.post(f"/api/v1/applications/{colleague['id']}/submit", headers=shop.headers("alpha-user"))
    assert submit.status_code in (403, 404)
    assert app_row(shop, colleague["id"]).status == "draft"


def test_a_request_started_process_cannot_self_approve_its_own_application(shop: Any) -> None:
    mine = create(shop, user="alpha-admin").get_json()
    deploy(shop, "alpha-admin", "self_approve", operator_flow("self_approve", [
        ("applications/mark", {"application_id": "application_id", "status": "'pending'"}),
        ("applications/mark", {"application_id": "application_id", "status": "'approved'"})]))
    resp = start(shop, "alpha-admin", "self_approve", {"application_id": mine["id"]}, business_key=mine["id"])
    assert resp.status_code == 201 and resp.get_json()["status"] == "incident"
    assert incident_codes(shop, resp.get_json()["id"]) != []
    assert app_row(shop, mine["id"]).status == "draft"


def test_site_messages_stay_in_the_instances_tenant(shop: Any) -> None:
    victim = create(shop).get_json()  # alpha's
    before = len(kinds(shop, "alpha-admin"))
    deploy(shop, "beta-admin", "phish", operator_flow("phish", [
        ("notify/application", {"application_id": "application_id", "event": "'approved'",
                                "audience": "['role:tenant_admin']"})]))
    resp = start(shop, "beta-admin", "phish", {"application_id": victim["id"]}, business_key=victim["id"])
    assert resp.get_json()["status"] == "incident"
    assert len(kinds(shop, "alpha-admin")) == before


def test_messages_from_requests_cannot_reach_an_internal_process(shop: Any) -> None:
    pending = create(shop, submit=True).get_json()
    resp = shop.client.post("/api/v1/process-messages", headers=shop.headers("alpha-admin"),
                            json={"name": "application_cancel", "correlation_keys": {"business_key": pending["id"]},
                                  "payload": {"status": "approved"}})
    assert resp.status_code == 403, resp.get_json()
    assert app_row(shop, pending["id"]).status == "pending"
