"""Timer values from process data over HTTP (engine.spiff.durations): a start whose timer value is
refused answers 422 naming the variable and the timer and stores nothing; a value refused later,
at run time, becomes an incident; an application submit that reaches a refused timer answers 422.
Never a 500, and never minutes of CPU under the database's write lock."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.applications.test_applications import create
from tests.api.conftest import login
from tests.domains.applications.test_applications_engine import TENANT_APPROVAL
from tests.helpers import read

FILES = {"timer_input.bpmn": read("timer_input.bpmn"),
         "timer-input-start-schema.json": read("timer-input-start-schema.json"),
         "timer-input-work-schema.json": read("timer-input-work-schema.json")}
ROOT = Path(__file__).resolve().parents[3]

# the finding's values first: each gave a 500, "P99999999Y" after minutes of CPU
BAD = ["P99999999Y", "P9999Y", "garbage", {"x": 1}, 2**62,
       None, ["PT1H"], 3600, "", "P" + "9" * 99, "R/PT1H", "2026-03-02T10:00:00Z", "P10Y1D"]


def _id(value: object) -> str:
    return value[:20] if isinstance(value, str) else type(value).__name__


@pytest.fixture
def deployed(client: FlaskClient) -> None:
    """timer_input, deployed by a tenant admin (alpha's own process, which its users may start)."""
    data = {"files": [(io.BytesIO(content), name) for name, content in FILES.items()]}
    resp = client.post("/api/v1/process-definitions", data=data, headers=login(client, "alpha-admin"),
                       content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()


def start(client: FlaskClient, headers: dict[str, str], timeout: Any) -> Any:
    return client.post("/api/v1/process-instances", json={"key": "timer_input", "variables": {"timeout": timeout}},
                       headers=headers)


def instances(client: FlaskClient, headers: dict[str, str]) -> int:
    return client.get("/api/v1/process-instances?key=timer_input", headers=headers).get_json()["total"]


@pytest.mark.parametrize("value", BAD, ids=_id)
def test_a_start_with_a_refused_timer_value_is_a_422_naming_the_variable(client, deployed, value):
    user = login(client, "alpha-user")
    resp = start(client, user, value)
    body = resp.get_json()
    assert resp.status_code == 422, body
    assert body["code"] == "invalid_input"
    assert body["message"].startswith("timer 'deadline' (timeDuration timeout): ")
    assert body["errors"] == [{"field": "timeout", "element_id": "deadline",
                               "message": body["message"].split(": ", 1)[1]}]
    assert instances(client, login(client, "alpha-admin")) == 0  # nothing stored


def test_the_finding_s_slow_value_is_refused_and_other_tenants_can_log_in(client, deployed):
    assert start(client, login(client, "alpha-user"), "P99999999Y").status_code == 422
    # the write lock is free again at once: another tenant's login (a write) goes through
    assert login(client, "beta-user")


def test_a_good_value_starts_and_a_value_refused_later_is_an_incident(client, deployed):
    user = login(client, "alpha-user")
    started = start(client, user, "PT2H")
    assert started.status_code == 201, started.get_json()
    instance_id = started.get_json()["id"]
    [task] = [t for t in client.get("/api/v1/tasks?tab=todo", headers=user).get_json()["items"]
              if t["instance_id"] == instance_id]
    done = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"next_timeout": "P99999999Y"}},
                       headers=user)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == "incident"
    detail = client.get(f"/api/v1/process-instances/{instance_id}", headers=user).get_json()
    [incident] = detail["incidents"]
    assert (incident["kind"], incident["task_spec"], incident["status"]) == ("timer-error", "after_deadline", "open")
    assert incident["message"] == ("timer 'after_deadline' (timeDuration next_timeout): "
                                   "'P99999999Y' is longer than 10 years")
    assert [t["task_spec"] for t in detail["current_tasks"]] == ["after"]  # the process goes on


@pytest.mark.parametrize("value", [{"x": 1}, 2**62, "garbage"], ids=_id)
def test_each_refused_value_at_run_time_is_an_incident_not_a_500(client, deployed, value):
    user = login(client, "alpha-user")
    instance_id = start(client, user, "PT2H").get_json()["id"]
    [task] = [t for t in client.get("/api/v1/tasks?tab=todo", headers=user).get_json()["items"]
              if t["instance_id"] == instance_id]
    done = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"next_timeout": value}}, headers=user)
    assert done.status_code == 200 and done.get_json()["status"] == "incident", done.get_json()


def test_a_literal_timer_value_is_refused_at_deploy(client):
    files = dict(FILES, **{"timer_input.bpmn": FILES["timer_input.bpmn"].replace(
        b"<bpmn:timeDuration>timeout<", b'<bpmn:timeDuration>"P99999999Y"<')})
    data = {"files": [(io.BytesIO(content), name) for name, content in files.items()]}
    resp = client.post("/api/v1/process-definitions", data=data, headers=login(client, "alpha-admin"),
                       content_type="multipart/form-data")
    body = resp.get_json()
    assert resp.status_code == 400 and body["code"] == "deployment_rejected", body
    assert [(e["element_id"], e["message"]) for e in body["errors"]] == [
        ("deadline", "timeDuration: 'P99999999Y' is longer than 10 years")]


def test_an_application_submit_reaching_a_refused_timer_is_a_422_keeping_nothing(shop):
    """A tenant's own approval computes its escalation timer (not a literal, so deploy cannot
    read it): submitting an application starts it and reaches the timer."""
    with_timer = TENANT_APPROVAL.replace(
        '<bpmn:serviceTask id="record" name="Record">',
        '<bpmn:boundaryEvent id="alpha_deadline" attachedToRef="alpha_approve" cancelActivity="true">'
        '<bpmn:outgoing>f_late</bpmn:outgoing><bpmn:timerEventDefinition id="alpha_deadline_timer">'
        '<bpmn:timeDuration>"P" + "99999999Y"</bpmn:timeDuration></bpmn:timerEventDefinition>'
        '</bpmn:boundaryEvent><bpmn:endEvent id="late"><bpmn:incoming>f_late</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f_late" sourceRef="alpha_deadline" targetRef="late" />'
        '<bpmn:serviceTask id="record" name="Record">')
    assert with_timer != TENANT_APPROVAL
    schema = (ROOT / "forms" / "application-approval-schema.json").read_bytes()
    deployed = shop.client.post("/api/v1/process-definitions", headers=shop.headers("alpha-admin"),
                                content_type="multipart/form-data",
                                data={"files": [(io.BytesIO(with_timer.encode()), "alpha-approval.bpmn"),
                                                (io.BytesIO(schema), "application-approval-schema.json")]})
    assert deployed.status_code == 201, deployed.get_json()

    resp = create(shop, submit=True)
    body = resp.get_json()
    assert resp.status_code == 422, body
    assert body["message"] == ("timer 'alpha_deadline' (timeDuration \"P\" + \"99999999Y\"): "
                               "'P99999999Y' is longer than 10 years")
    assert body["errors"][0]["field"] == "alpha_deadline"
    mine = shop.client.get("/api/v1/applications?mine=true", headers=shop.headers("alpha-user")).get_json()
    assert mine["total"] == 0  # not even the draft is kept
    assert shop.quota("alpha", None, "gpus")["in_process"] == "0.000"
