"""A multi-instance activity drawn in Camunda Modeler names its collection for Camunda 7
(``camunda:collection``, ``camunda:elementVariable``) or Camunda 8 (``zeebe:loopCharacteristics``);
it runs over that collection as BPMN's own loop data would, each instance keeping its own item, and
the stored file stays as uploaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.designer import simulate_file
from engine.models import ProcessInstance
from engine.validation import validate_files


def _process(loop: str, attributes: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="d" targetNamespace="urn:aicmp:test">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="price"/>
    <bpmn:scriptTask id="price" name="Price one GPU host">
      <bpmn:multiInstanceLoopCharacteristics isSequential="true"{attributes}>
        <bpmn:extensionElements>{loop}</bpmn:extensionElements>
      </bpmn:multiInstanceLoopCharacteristics>
      <bpmn:script>price = host["gpus"] * 10</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f1" sourceRef="price" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


LOOP = ('<zeebe:loopCharacteristics inputCollection="=hosts" inputElement="host" '
        'outputCollection="prices" outputElement="=price"/>')


def test_the_activity_runs_once_per_item_and_collects_each_result(tmp_path: Path) -> None:
    path = tmp_path / "p.bpmn"
    path.write_bytes(_process(LOOP))
    checked, result = simulate_file(path, max_bytes=1_000_000, data={"hosts": [{"gpus": 8}, {"gpus": 2}]})
    assert checked.ok and result is not None and result.completed, (checked.errors, result and result.problem)
    assert result.data["prices"] == [80, 20]


@pytest.mark.parametrize(("loop", "attributes"), [
    ('<zeebe:loopCharacteristics inputCollection="hosts" inputElement="host"/>', ""),
    ("", ' camunda:collection="${hosts}" camunda:elementVariable="host"'),
    ("", ' camunda:collection="hosts" camunda:elementVariable="host"'),
], ids=["zeebe", "camunda-juel", "camunda-name"])
def test_without_an_output_the_items_still_each_run_once(tmp_path: Path, loop: str, attributes: str) -> None:
    path = tmp_path / "p.bpmn"
    path.write_bytes(_process(loop, attributes))
    checked, result = simulate_file(path, max_bytes=1_000_000, data={"hosts": [{"gpus": 1}] * 3})
    assert result is not None and result.completed, (checked.errors, result and result.problem)
    assert [step for step in result.path if step.startswith("Price")] == ["Price one GPU host"] * 3
    assert "host" not in result.data  # each instance's own


@pytest.mark.parametrize(("loop", "attributes", "written"), [
    ('<zeebe:loopCharacteristics inputCollection="=order.hosts" inputElement="host"/>', "", "=order.hosts"),
    ('<zeebe:loopCharacteristics inputCollection="=hosts[1..2]" inputElement="host"/>', "", "=hosts[1..2]"),
    ('<zeebe:loopCharacteristics inputCollection="=count(hosts) > 0" inputElement="host"/>', "", "=count(hosts) > 0"),
    ("", ' camunda:collection="${order.hosts}" camunda:elementVariable="host"', "${order.hosts}"),
    ("", ' camunda:collection="${hostService.list()}" camunda:elementVariable="host"', "${hostService.list()}"),
])
def test_an_expression_as_the_collection_is_refused_at_deploy_naming_it(loop: str, attributes: str,
                                                                         written: str) -> None:
    checked = validate_files({"p.bpmn": _process(loop, attributes)}, max_bytes=1_000_000)
    assert not checked.ok
    [error] = checked.errors
    assert error.element_id == "price" and repr(written) in error.message
    assert "the collection must be a variable name" in error.message


def test_the_stored_file_is_the_uploaded_one() -> None:
    bpmn = _process(LOOP)
    checked = validate_files({"p.bpmn": bpmn}, max_bytes=1_000_000)
    assert checked.ok and checked.files["p.bpmn"] == bpmn  # only the parse sees the loop data added


def _approvals(loop: str, attributes: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="d" targetNamespace="urn:aicmp:test">
  <bpmn:process id="approvals" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="approve"/>
    <bpmn:userTask id="approve" name="Approve one host">
      <bpmn:multiInstanceLoopCharacteristics{attributes}>{loop}</bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f1" sourceRef="approve" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


@pytest.mark.parametrize(("loop", "attributes"), [
    ('<bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=hosts" inputElement="host"/>'
     '</bpmn:extensionElements>', ""),
    ("", ' camunda:collection="${hosts}" camunda:elementVariable="host"'),
    ('<bpmn:loopDataInputRef>hosts</bpmn:loopDataInputRef><bpmn:inputDataItem id="host" name="host"/>', ""),
], ids=["zeebe", "camunda", "bpmn"])
def test_each_instance_keeps_its_own_item_across_saves_when_nothing_is_collected(engine, loop: str,
                                                                                attributes: str) -> None:
    """A countersign: parallel instances, one per signer (the item is the assignee), each saved and
    restored as its task is completed. The item is each instance's own: it never lands in the
    activity's data (SpiffWorkflow would merge it there, and a sequential loop would then refuse
    its next instance)."""
    engine.registry.deploy({"approvals.bpmn": _approvals(loop, attributes)})
    signers = ["carol", "dave", "erin"]
    inst = engine.runtime.start("approvals", tenant_id="t-alpha", initiator="alice", variables={"hosts": signers})
    for signer in signers:
        [task] = engine.inbox.list_tasks("t-alpha", signer).items
        engine.inbox.complete("t-alpha", task.id, user=signer, data={f"signed_by_{signer}": True})
    with engine.db.read() as s:
        row = s.get(ProcessInstance, inst.id)
        assert row.status == "completed"
        state = json.loads(row.state_json)
    assert "host" not in state["data"] and state["data"]["hosts"] == signers
    assert all(state["data"][f"signed_by_{signer}"] for signer in signers)
