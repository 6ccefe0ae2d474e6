"""A tenant's expensive script is stopped by its step's budget and leaves other tenants' requests alone."""

from __future__ import annotations

import io
import threading
from typing import Any

from sqlalchemy import select

from engine.models import Incident
from tests.api.conftest import login

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')
# each script run stays inside one evaluation's budget; the BPMN loop runs it until the step's is spent
BURN = (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="d" targetNamespace="http://t">'
        '<bpmn:process id="burn" isExecutable="true"><bpmn:startEvent id="start"/>'
        '<bpmn:exclusiveGateway id="join"/>'
        '<bpmn:scriptTask id="work"><bpmn:script>total = 0\nfor i in range(60000):\n    total = total + i'
        '</bpmn:script></bpmn:scriptTask>'
        '<bpmn:exclusiveGateway id="again" default="back"/><bpmn:endEvent id="end"/>'
        '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="join"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="join" targetRef="work"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="again"/>'
        '<bpmn:sequenceFlow id="back" sourceRef="again" targetRef="join"/>'
        '<bpmn:sequenceFlow id="out" sourceRef="again" targetRef="end">'
        '<bpmn:conditionExpression>total &lt; 0</bpmn:conditionExpression></bpmn:sequenceFlow>'
        '</bpmn:process></bpmn:definitions>').encode()


def test_a_script_loop_is_stopped_by_the_step_budget_while_another_tenant_works(client: Any, api_engine: Any) -> None:
    alpha, beta = login(client, "alpha-admin"), login(client, "beta-user")
    deployed = client.post("/api/v1/process-definitions", headers=alpha, content_type="multipart/form-data",
                           data={"files": [(io.BytesIO(BURN), "burn.bpmn")]})
    assert deployed.status_code == 201, deployed.get_json()
    barrier = threading.Barrier(2)
    answers: dict[str, Any] = {}

    def burn() -> None:
        barrier.wait()
        answers["burn"] = client.post("/api/v1/process-instances", headers=alpha, json={"key": "burn"})

    def other_tenant() -> None:
        barrier.wait()
        answers["me"] = [client.get("/api/v1/auth/me", headers=beta).status_code for _ in range(5)]

    threads = [threading.Thread(target=burn), threading.Thread(target=other_tenant)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers["me"] == [200] * 5
    started = answers["burn"]
    assert started.status_code == 201 and started.get_json()["status"] == "incident"
    with api_engine.db.read() as s:
        [incident] = s.scalars(select(Incident).where(Incident.instance_id == started.get_json()["id"])).all()
    assert incident.kind == "script-error" and "scripts of this step" in incident.message
