"""BPMN's implicit start and implicit split, which SpiffWorkflow refuses and bpmn.io and the MIWG
suite draw: a process or subprocess without a start event starts every node with no incoming flow
(an empty one ends at once); a task with several unconditional outgoing flows leaves on all of
them. The stored bytes stay as uploaded; only the parse sees the added start event."""

from __future__ import annotations

from engine.simulate import simulate
from engine.validation import validate_files

HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">\n')

NO_START = HEAD + b"""
  <bpmn:process id="no_start" isExecutable="true">
    <bpmn:scriptTask id="a"><bpmn:outgoing>f1</bpmn:outgoing><bpmn:script>a = 1</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="b"><bpmn:outgoing>f2</bpmn:outgoing><bpmn:script>b = 2</bpmn:script></bpmn:scriptTask>
    <bpmn:task id="handler" isForCompensation="true" />
    <bpmn:parallelGateway id="join"><bpmn:incoming>f1</bpmn:incoming><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:subProcess id="empty"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:subProcess>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="a" targetRef="join"/>
    <bpmn:sequenceFlow id="f2" sourceRef="b" targetRef="join"/>
    <bpmn:sequenceFlow id="f3" sourceRef="join" targetRef="empty"/>
    <bpmn:sequenceFlow id="f4" sourceRef="empty" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""

SPLIT = HEAD + b"""
  <bpmn:process id="split" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:task id="fork"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:task>
    <bpmn:scriptTask id="left"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>left = True</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="right"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>right = True</bpmn:script></bpmn:scriptTask>
    <bpmn:parallelGateway id="join"><bpmn:incoming>f3</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming>
      <bpmn:outgoing>f5</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:endEvent id="end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="fork"/>
    <bpmn:sequenceFlow id="f1" sourceRef="fork" targetRef="left"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="right"/>
    <bpmn:sequenceFlow id="f3" sourceRef="left" targetRef="join"/>
    <bpmn:sequenceFlow id="f4" sourceRef="right" targetRef="join"/>
    <bpmn:sequenceFlow id="f5" sourceRef="join" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def _run(name: str, bpmn: bytes):
    checked = validate_files({name: bpmn}, max_bytes=1_000_000)
    assert checked.ok, checked.errors
    [process] = checked.processes
    return checked, simulate(process, {process.key: process}, files=checked.files)


def test_a_process_without_a_start_event_starts_every_node_without_an_incoming_flow():
    checked, result = _run("no_start.bpmn", NO_START)
    assert result.completed, result.problem
    assert result.data["a"] == 1 and result.data["b"] == 2  # both branches ran, then the join
    assert "handler" not in result.element_ids  # a compensation handler is not started
    assert result.path[0] == "(implicit start)"
    assert "empty__implicit_end" in result.element_ids  # the empty subprocess ended at once
    assert checked.files["no_start.bpmn"] == NO_START  # the stored bytes are the uploaded ones


def test_several_unconditional_flows_leave_a_task_in_parallel():
    _checked, result = _run("split.bpmn", SPLIT)
    assert result.completed, result.problem
    assert result.data["left"] is True and result.data["right"] is True


def test_a_task_with_a_conditional_outgoing_flow_is_still_refused():
    conditional = SPLIT.replace(
        b'<bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="right"/>',
        b'<bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="right">'
        b'<bpmn:conditionExpression>x == 1</bpmn:conditionExpression></bpmn:sequenceFlow>')
    checked = validate_files({"split.bpmn": conditional}, max_bytes=1_000_000)
    assert not checked.ok
    assert "[fork]: Multiple outgoing flows are not supported" in str(checked.errors[0])
