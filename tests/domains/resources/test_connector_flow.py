"""A BPMN process creates a resource through ``connector/create`` on the real engine, port and
simulator: the resource is recorded for the process's tenant, the client token stays in the
process data (the credentials never do), a lost response caught as CONNECTOR_TIMEOUT keeps the token
for the retry, and a tenant's process cannot spend the platform's account."""

from __future__ import annotations

import json

from sqlalchemy import select

from connectors import simulator
from engine.domains.resources import service
from engine.domains.resources.accounts import SIMULATOR_STATE
from engine.domains.resources.models import CloudResource
from engine.models import Incident, Job, ProcessInstance
from engine.principal import Principal
from tasks.registry import REGISTRY

STAFF = Principal("u-admin", "admin", None, None, ("platform_admin",))
ALPHA = Principal("u-alpha", "alpha-admin", "t-alpha", None, ("tenant_admin",))
KEY = "flow-secret-api-key-0123456789"

BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_provision" targetNamespace="http://aicmp.test/bpmn">
  <bpmn:error id="err_timeout" name="Timeout" errorCode="CONNECTOR_TIMEOUT">
    <bpmn:extensionElements><spiffworkflow:variableName>failure</spiffworkflow:variableName></bpmn:extensionElements>
  </bpmn:error>
  <bpmn:process id="provision_vm" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="create" name="Create the VM">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="connector/create" resultVariable="vm">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="account_id" type="str" value="account_id" />
            <spiffworkflow:parameter id="spec" type="any"
                                     value="{'name': 'vm-' + str(line), 'vcpu': 2, 'memory_gib': '4'}" />
            <spiffworkflow:parameter id="client_token" type="str" value="'order-' + str(line)" />
            <spiffworkflow:parameter id="retries" type="int" value="retries" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:boundaryEvent id="on_timeout" attachedToRef="create">
      <bpmn:outgoing>f_err</bpmn:outgoing>
      <bpmn:errorEventDefinition id="ed1" errorRef="err_timeout" />
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="end_ok"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_timeout"><bpmn:incoming>f_err</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="create" />
    <bpmn:sequenceFlow id="f2" sourceRef="create" targetRef="end_ok" />
    <bpmn:sequenceFlow id="f_err" sourceRef="on_timeout" targetRef="end_timeout" />
  </bpmn:process>
</bpmn:definitions>
"""


def _setup(engine, operators, principal=ALPHA, name="alpha", cloud="alpha-cloud"):
    for name_ in REGISTRY.names():
        if name_.startswith("connector/"):
            operators.register(REGISTRY.get(name_))
    engine.registry.deploy({"provision.bpmn": BPMN})
    return service.create_account(engine, principal, name=name, provider_type="simulator",
                                  endpoint=f"sim://{cloud}", credentials={"api_key": KEY})


def _data(engine, instance_id):
    """Status, process data, and everything stored for the instance (its state and its job rows)."""
    with engine.db.read() as s:
        row = s.get(ProcessInstance, instance_id)
        wf = engine.runtime.load(s, row).workflow
        jobs = [(j.params, j.result, j.error) for j in s.scalars(select(Job).where(Job.instance_id == instance_id))]
        return row.status, wf.data, row.state_json + json.dumps(wf.data, default=str) + json.dumps(jobs, default=str)


def _jobs(engine, instance_id):
    with engine.db.read() as s:
        return [(j.operator, j.status) for j in s.scalars(select(Job).where(Job.instance_id == instance_id))]


def test_a_process_creates_a_resource_for_its_tenant_and_keeps_the_token_not_the_credentials(engine, operators):
    account = _setup(engine, operators)
    started = engine.runtime.start("provision_vm", tenant_id="t-alpha",
                                   variables={"account_id": account["id"], "line": 7, "retries": 2})
    status, data, dumped = _data(engine, started.id)
    assert status == "completed", data
    assert data["vm"]["client_token"] == "order-7" and data["vm"]["status"] == "running"
    assert KEY not in dumped
    assert _jobs(engine, started.id) == [("connector/create", "done")]  # async: a job, outside the step
    with engine.db.read() as s:
        row = s.scalars(select(CloudResource)).one()
    assert (row.tenant_id, row.client_token, row.origin, row.name) == ("t-alpha", "order-7", "created", "vm-7")


def test_without_a_dispatcher_the_connector_runs_inline_in_the_step(engine, operators):
    account = _setup(engine, operators)
    engine.runtime.async_enabled = False
    started = engine.runtime.start("provision_vm", tenant_id="t-alpha",
                                   variables={"account_id": account["id"], "line": 6, "retries": 0})
    assert started.status == "completed" and _jobs(engine, started.id) == []
    status, data, dumped = _data(engine, started.id)
    assert data["vm"]["client_token"] == "order-6" and KEY not in dumped
    with engine.db.read() as s:
        assert s.scalars(select(CloudResource.tenant_id)).all() == ["t-alpha"]


def test_a_lost_response_is_the_timeout_error_with_the_token_and_the_retry_finds_the_one_resource(engine, operators):
    account = _setup(engine, operators)
    simulator.add_fault(engine.settings.var_dir / SIMULATOR_STATE, "alpha-cloud", op="create", nth=1,
                        kind="lose_response")
    first = engine.runtime.start("provision_vm", tenant_id="t-alpha",
                                 variables={"account_id": account["id"], "line": 8, "retries": 0})
    status, data, dumped = _data(engine, first.id)
    assert status == "completed" and "vm" not in data and KEY not in dumped
    assert data["failure"]["code"] == "CONNECTOR_TIMEOUT" and data["failure"]["details"]["client_token"] == "order-8"
    again = engine.runtime.start("provision_vm", tenant_id="t-alpha",
                                 variables={"account_id": account["id"], "line": 8, "retries": 0})
    _status, data2, _ = _data(engine, again.id)
    assert data2["vm"]["client_token"] == "order-8"
    assert simulator.count_resources(engine.settings.var_dir / SIMULATOR_STATE, "alpha-cloud") == 1


def test_a_tenants_process_cannot_spend_the_platforms_account(engine, operators):
    platform = _setup(engine, operators, principal=STAFF, name="platform", cloud="lab")
    started = engine.runtime.start("provision_vm", tenant_id="t-alpha",
                                   variables={"account_id": platform["id"], "line": 9, "retries": 0})
    instance_id = started.id
    with engine.db.read() as s:
        incident = s.scalars(select(Incident).where(Incident.instance_id == instance_id)).one()
        assert s.scalars(select(CloudResource)).all() == []
    assert "UNKNOWN_ACCOUNT" in f"{incident.error_code} {incident.message}"
    assert _jobs(engine, instance_id) == [("connector/create", "failed")]
    assert simulator.count_resources(engine.settings.var_dir / SIMULATOR_STATE, "lab") == 0
