"""BPMN data stores, which SpiffWorkflow refuses without a host implementation, are kept as
process data: written by a data output association, read back by an input association, kept
across a save and restore of the instance."""

from __future__ import annotations

from sqlalchemy import select

from engine.models import ProcessInstance
from engine.simulate import simulate
from engine.validation import validate_files

STORE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:dataStore id="ledger" name="Ledger (an external system in the model)" />
  <bpmn:process id="stores" isExecutable="true">
    <bpmn:dataStoreReference id="ledger_ref" dataStoreRef="ledger" />
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="write"/>
    <bpmn:scriptTask id="write">
      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:dataOutputAssociation id="w"><bpmn:targetRef>ledger_ref</bpmn:targetRef></bpmn:dataOutputAssociation>
      <bpmn:script>ledger = {'entries': 1}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f1" sourceRef="write" targetRef="wait"/>
    <bpmn:userTask id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="read"/>
    <bpmn:scriptTask id="read">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:dataInputAssociation id="r"><bpmn:sourceRef>ledger_ref</bpmn:sourceRef></bpmn:dataInputAssociation>
      <bpmn:script>seen = ledger['entries'] + 1</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="read" targetRef="end"/>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_data_store_is_written_and_read_as_process_data():
    checked = validate_files({"stores.bpmn": STORE}, max_bytes=1_000_000)
    assert checked.ok, checked.errors
    [process] = checked.processes
    result = simulate(process, {process.key: process}, files=checked.files)
    assert result.completed, result.problem
    assert result.data["seen"] == 2
    assert result.data["data_objects"] == {"ledger": {"entries": 1}}  # beside the data objects
    assert "ledger" not in result.data  # the tasks' copies are gone


def test_the_store_survives_saving_and_restoring_the_instance(engine):
    engine.registry.deploy({"stores.bpmn": STORE})
    inst = engine.runtime.start("stores", tenant_id="t-alpha", initiator="alice")
    [task] = engine.inbox.list_tasks("t-alpha", "alice").items  # the instance was saved at the user task
    engine.inbox.complete("t-alpha", task.id, user="alice")
    with engine.db.read() as s:
        assert s.scalar(select(ProcessInstance.status).where(ProcessInstance.id == inst.id)) == "completed"
