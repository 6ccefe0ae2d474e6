"""BPMN data mapping: a data association copies a value from its source to its target, where either
end may be a data object, a data store, the process's ioSpecification input or output, or the
task's own input or output (SpiffWorkflow reads only a data object or store at one end)."""

from __future__ import annotations

from SpiffWorkflow.bpmn.specs.data_spec import DataObject
from SpiffWorkflow.util.task import TaskState

from engine.models import ProcessInstance
from engine.simulate import simulate
from engine.spiff.data_mapping import InputMapping, OutputMapping
from engine.spiff.datastores import ProcessDataStore
from engine.spiff.serializer import serializer
from engine.validation import validate_files

HEAD = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">"""

# order (process input) -> price's p_in -> p_out -> data object total -> report's r_in -> r_out
# -> summary (process output); a user task between the two script tasks, where the instance is saved
FLOW = HEAD + b"""
  <bpmn:process id="mapping" isExecutable="true">
    <bpmn:ioSpecification>
      <bpmn:dataInput id="order" name="Order"/>
      <bpmn:dataOutput id="summary" name="Summary"/>
      <bpmn:inputSet><bpmn:dataInputRefs>order</bpmn:dataInputRefs></bpmn:inputSet>
      <bpmn:outputSet><bpmn:dataOutputRefs>summary</bpmn:dataOutputRefs></bpmn:outputSet>
    </bpmn:ioSpecification>
    <bpmn:dataObject id="total"/>
    <bpmn:dataObjectReference id="total_ref" dataObjectRef="total"/>
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="price"/>
    <bpmn:scriptTask id="price">
      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:ioSpecification>
        <bpmn:dataInput id="p_in"/><bpmn:dataOutput id="p_out"/>
        <bpmn:inputSet><bpmn:dataInputRefs>p_in</bpmn:dataInputRefs></bpmn:inputSet>
        <bpmn:outputSet><bpmn:dataOutputRefs>p_out</bpmn:dataOutputRefs></bpmn:outputSet>
      </bpmn:ioSpecification>
      <bpmn:dataInputAssociation id="a1">
        <bpmn:sourceRef>order</bpmn:sourceRef>
        <bpmn:targetRef>p_in</bpmn:targetRef></bpmn:dataInputAssociation>
      <bpmn:dataOutputAssociation id="a2">
        <bpmn:sourceRef>p_out</bpmn:sourceRef>
        <bpmn:targetRef>total_ref</bpmn:targetRef></bpmn:dataOutputAssociation>
      <bpmn:script>p_out = {'amount': p_in['qty'] * 3}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f1" sourceRef="price" targetRef="wait"/>
    <bpmn:userTask id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="report"/>
    <bpmn:scriptTask id="report">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:ioSpecification>
        <bpmn:dataInput id="r_in"/><bpmn:dataOutput id="r_out"/>
        <bpmn:inputSet><bpmn:dataInputRefs>r_in</bpmn:dataInputRefs></bpmn:inputSet>
        <bpmn:outputSet><bpmn:dataOutputRefs>r_out</bpmn:dataOutputRefs></bpmn:outputSet>
      </bpmn:ioSpecification>
      <bpmn:dataInputAssociation id="a3">
        <bpmn:sourceRef>total_ref</bpmn:sourceRef>
        <bpmn:targetRef>r_in</bpmn:targetRef></bpmn:dataInputAssociation>
      <bpmn:dataOutputAssociation id="a4">
        <bpmn:sourceRef>r_out</bpmn:sourceRef>
        <bpmn:targetRef>summary</bpmn:targetRef></bpmn:dataOutputAssociation>
      <bpmn:script>r_out = 'total ' + str(r_in['amount'])</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="report" targetRef="end"/>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def _run(xml: bytes, data: dict | None = None, **kwargs):
    checked = validate_files({"m.bpmn": xml}, max_bytes=1_000_000)
    assert checked.ok, checked.errors
    [process] = checked.processes
    return process, simulate(process, {process.key: process}, files=checked.files, data=data, **kwargs)


def test_a_value_flows_from_the_process_input_through_task_inputs_outputs_and_a_data_object_to_the_output():
    _, result = _run(FLOW, {"order": {"qty": 4}})
    assert result.completed, result.problem
    assert result.data["summary"] == "total 12"  # the process's output, as SpiffWorkflow names it
    assert result.data["data_objects"] == {"total": {"amount": 12}}
    assert not {"p_in", "p_out", "r_in", "r_out"} & set(result.data)  # the tasks' own items are gone


def test_the_associations_become_mappings_between_both_ends():
    process, _ = _run(FLOW, {"order": {"qty": 1}})
    price = process.spec.task_specs["price"]
    [into] = price.data_input_associations
    [out] = price.data_output_associations
    assert isinstance(into, InputMapping) and (into.source.bpmn_id, into.target.bpmn_id) == ("order", "p_in")
    assert isinstance(out, OutputMapping) and isinstance(out.target, DataObject) and out.consumes
    assert (out.source.bpmn_id, out.target.bpmn_id) == ("p_out", "total")


def test_a_process_input_the_start_did_not_give_is_missing_not_null():
    _, result = _run(FLOW, {})
    assert not result.completed
    assert "Missing data input" in result.problem  # the task's declared input was never filled with null


def test_a_spec_with_mappings_saves_and_restores():
    process, _ = _run(FLOW, {"order": {"qty": 1}})
    ser = serializer("spiff")
    restored = ser.registry.restore(ser.registry.convert(process.spec))
    [out] = restored.task_specs["price"].data_output_associations
    assert isinstance(out, OutputMapping) and isinstance(out.target, DataObject) and out.consumes
    [into] = restored.task_specs["report"].data_input_associations
    assert isinstance(into, InputMapping) and isinstance(into.source, DataObject)


def test_the_instance_saved_between_two_mapped_tasks_restores_and_finishes(engine):
    engine.registry.deploy({"mapping.bpmn": FLOW})
    inst = engine.runtime.start("mapping", tenant_id="t-alpha", initiator="alice", variables={"order": {"qty": 5}})
    with engine.db.read() as s:  # saved at the user task: the data object holds the mapped output
        loaded = engine.runtime.load(s, s.get(ProcessInstance, inst.id))
        assert loaded.workflow.data["data_objects"] == {"total": {"amount": 15}}
        [waiting] = loaded.workflow.get_tasks(state=TaskState.READY, manual=True)
    done = engine.runtime.complete_task(inst.id, str(waiting.id), {}, actor="alice", tenant_id="t-alpha")
    assert done.status == "completed"
    with engine.db.read() as s:
        data = engine.runtime.load(s, s.get(ProcessInstance, inst.id)).workflow.data
    assert data["summary"] == "total 15"


# a task output not in the output set that the task did not set leaves the data object as it was;
# a store reference naming no data store is a store of its own; SpiffWorkflow's own form
# (a data object with a placeholder target) keeps working beside the mappings
UNSET = HEAD + b"""
  <bpmn:process id="unset" isExecutable="true">
    <bpmn:dataObject id="note"/>
    <bpmn:dataObjectReference id="note_ref" dataObjectRef="note"/>
    <bpmn:dataStoreReference id="shelf" name="a store drawn without a data store"/>
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="write"/>
    <bpmn:scriptTask id="write">
      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:ioSpecification>
        <bpmn:dataOutput id="w_out"/><bpmn:inputSet/>
        <bpmn:outputSet><bpmn:dataOutputRefs>w_out</bpmn:dataOutputRefs></bpmn:outputSet>
      </bpmn:ioSpecification>
      <bpmn:dataOutputAssociation id="a1">
        <bpmn:sourceRef>w_out</bpmn:sourceRef>
        <bpmn:targetRef>note_ref</bpmn:targetRef></bpmn:dataOutputAssociation>
      <bpmn:dataOutputAssociation id="a2">
        <bpmn:sourceRef>w_out</bpmn:sourceRef>
        <bpmn:targetRef>shelf</bpmn:targetRef></bpmn:dataOutputAssociation>
      <bpmn:script>w_out = 'first'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f1" sourceRef="write" targetRef="skip"/>
    <bpmn:scriptTask id="skip">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:ioSpecification>
        <bpmn:dataOutput id="s_out"/><bpmn:inputSet/><bpmn:outputSet/>
      </bpmn:ioSpecification>
      <bpmn:dataOutputAssociation id="a3">
        <bpmn:sourceRef>s_out</bpmn:sourceRef>
        <bpmn:targetRef>note_ref</bpmn:targetRef></bpmn:dataOutputAssociation>
      <bpmn:script>other = 1</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="skip" targetRef="read"/>
    <bpmn:scriptTask id="read">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:property id="placeholder" name="__targetRef_placeholder"/>
      <bpmn:dataInputAssociation id="a4">
        <bpmn:sourceRef>note_ref</bpmn:sourceRef>
        <bpmn:targetRef>placeholder</bpmn:targetRef></bpmn:dataInputAssociation>
      <bpmn:dataInputAssociation id="a5">
        <bpmn:sourceRef>shelf</bpmn:sourceRef>
        <bpmn:targetRef>placeholder</bpmn:targetRef></bpmn:dataInputAssociation>
      <bpmn:script>seen = note + ' / ' + shelf</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="read" targetRef="end"/>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def test_an_output_the_task_did_not_set_leaves_the_data_object_as_it_was():
    process, result = _run(UNSET)
    assert result.completed, result.problem
    assert result.data["seen"] == "first / first"
    assert result.data["data_objects"] == {"note": "first", "shelf": "first"}
    write = process.spec.task_specs["write"]
    assert [m.consumes for m in write.data_output_associations] == [False, True]  # the last copy removes w_out
    assert isinstance(write.data_output_associations[1].target, ProcessDataStore)
    read = process.spec.task_specs["read"]
    assert isinstance(read.data_input_associations[0], DataObject)  # SpiffWorkflow's, unchanged


def test_an_association_to_an_item_that_is_not_there_is_still_refused():
    broken = UNSET.replace(b'id="a4">\n        <bpmn:sourceRef>note_ref', b'id="a4">\n        <bpmn:sourceRef>nowhere')
    assert broken != UNSET
    checked = validate_files({"m.bpmn": broken}, max_bytes=1_000_000)
    assert not checked.ok
    assert "Cannot resolve dataInputAssociation 'nowhere'" in str(checked.errors[0])


def test_a_reference_that_is_not_an_id_never_reaches_an_xpath():
    """An association's end goes into an XPath lookup: text that could change the expression (a
    quote, a union, a nested predicate) is refused as unresolved, not evaluated."""
    hostile = b"x'] | //*[//*[//*[@id='note_ref"
    head = b'id="a4">\n        <bpmn:sourceRef>'
    broken = UNSET.replace(head + b"note_ref", head + hostile)
    assert broken != UNSET
    checked = validate_files({"m.bpmn": broken}, max_bytes=1_000_000)
    assert not checked.ok
    assert "Cannot resolve dataInputAssociation" in str(checked.errors[0])
