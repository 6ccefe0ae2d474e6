"""BPMN compensation: a throw runs the handlers drawn for the activities that completed, latest
first, never twice, and waits for them; a cancelled transaction is compensated before it is left;
what aicmp does not run is refused at deploy, naming the element."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.designer import simulate_file
from engine.models import ProcessInstance
from engine.validation import validate_files

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
        'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="urn:aicmp:test">')


def _flow(*steps: str) -> str:
    return "\n".join(f'<bpmn:sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}"/>'
                     for a, b in zip(steps, steps[1:], strict=False))


def _compensable(activity: str, name: str, handler: str = "task", handler_body: str = "") -> str:
    """``activity`` (a script task setting ``<activity>_done``) with a compensation handler ``undo_<activity>``."""
    return f"""<bpmn:scriptTask id="{activity}" name="{name}">
      <bpmn:script>{activity}_done = True</bpmn:script></bpmn:scriptTask>
    <bpmn:boundaryEvent id="{activity}_comp" attachedToRef="{activity}">
      <bpmn:compensateEventDefinition/></bpmn:boundaryEvent>
    <bpmn:{handler} id="undo_{activity}" name="Undo {name}" isForCompensation="true">{handler_body}</bpmn:{handler}>
    <bpmn:association id="a_{activity}" associationDirection="One" sourceRef="{activity}_comp"
      targetRef="undo_{activity}"/>"""


def _process(body: str, pid: str = "p") -> bytes:
    return f'{HEAD}<bpmn:process id="{pid}" isExecutable="true">{body}</bpmn:process></bpmn:definitions>'.encode()


def _throw(event_id: str, activity_ref: str | None = None, kind: str = "intermediateThrowEvent") -> str:
    ref = f' activityRef="{activity_ref}"' if activity_ref else ""
    return f'<bpmn:{kind} id="{event_id}" name="{event_id}"><bpmn:compensateEventDefinition{ref}/></bpmn:{kind}>'


def _run(tmp_path: Path, bpmn: bytes, **given: object) -> object:
    path = tmp_path / "p.bpmn"
    path.write_bytes(bpmn)
    checked, result = simulate_file(path, max_bytes=1_000_000, **given)
    assert checked.ok, checked.errors
    assert result is not None and result.completed, result and result.problem
    return result


PROVISION = _process(f"""<bpmn:startEvent id="start"/>
    {_compensable("reserve", "Reserve quota")}
    {_compensable("provision", "Provision hosts")}
    <bpmn:exclusiveGateway id="gw" default="ok"/>
    {_compensable("bill", "Open the bill")}
    {_throw("undo_all")}
    <bpmn:endEvent id="failed" name="failed"/><bpmn:endEvent id="done" name="done"/>
    {_flow("start", "reserve", "provision", "gw")}
    <bpmn:sequenceFlow id="bad" sourceRef="gw" targetRef="undo_all">
      <bpmn:conditionExpression>broken</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="ok" sourceRef="gw" targetRef="bill"/>
    {_flow("undo_all", "failed")}{_flow("bill", "done")}""")


def test_a_throw_runs_the_handlers_of_what_completed_latest_first_then_goes_on(tmp_path):
    result = _run(tmp_path, PROVISION, data={"broken": True})
    assert result.path == ["start", "Reserve quota", "Provision hosts", "gw",
                           "Undo Provision hosts", "Undo Reserve quota", "undo_all", "failed"]  # bill never ran


def test_nothing_is_compensated_when_no_throw_is_reached(tmp_path):
    result = _run(tmp_path, PROVISION, data={"broken": False})
    assert not any(step.startswith("Undo") for step in result.path) and result.path[-1] == "done"


def test_activity_ref_compensates_that_activity_only_and_never_twice(tmp_path):
    bpmn = _process(f"""<bpmn:startEvent id="start"/>
        {_compensable("reserve", "Reserve quota")}{_compensable("provision", "Provision hosts")}
        {_throw("undo_hosts", "provision")}{_throw("undo_hosts_again", "provision")}{_throw("undo_rest")}
        <bpmn:endEvent id="end"/>
        {_flow("start", "reserve", "provision", "undo_hosts", "undo_hosts_again", "undo_rest", "end")}""")
    result = _run(tmp_path, bpmn)
    assert result.path == ["start", "Reserve quota", "Provision hosts", "Undo Provision hosts", "undo_hosts",
                           "undo_hosts_again", "Undo Reserve quota", "undo_rest", "end"]


def test_a_compensation_end_event_waits_for_its_handlers(tmp_path):
    bpmn = _process(f"""<bpmn:startEvent id="start"/>{_compensable("reserve", "Reserve quota")}
        {_throw("end", kind="endEvent")}{_flow("start", "reserve", "end")}""")
    assert _run(tmp_path, bpmn).path == ["start", "Reserve quota", "Undo Reserve quota", "end"]


def test_a_cancelled_transaction_is_compensated_before_it_is_left(tmp_path):
    bpmn = _process(f"""<bpmn:startEvent id="start"/>
        <bpmn:transaction id="order" name="Order">
          <bpmn:startEvent id="t_start"/>
          {_compensable("reserve", "Reserve quota")}{_compensable("provision", "Provision hosts")}
          <bpmn:endEvent id="t_cancel" name="cancel"><bpmn:cancelEventDefinition/></bpmn:endEvent>
          {_flow("t_start", "reserve", "provision", "t_cancel")}
        </bpmn:transaction>
        <bpmn:boundaryEvent id="cancelled" name="cancelled" attachedToRef="order"><bpmn:cancelEventDefinition/>
        </bpmn:boundaryEvent>
        <bpmn:endEvent id="end"/><bpmn:endEvent id="gave_up" name="gave up"/>
        {_flow("start", "order", "end")}{_flow("cancelled", "gave_up")}""")
    result = _run(tmp_path, bpmn)
    assert result.path[:4] == ["start", "t_start", "Reserve quota", "Provision hosts"]
    assert result.path.index("Undo Provision hosts") < result.path.index("Undo Reserve quota")
    assert result.path[-2:] == ["cancelled", "gave up"] and "end" not in result.path


def test_an_error_event_subprocess_compensates_what_its_process_did(tmp_path):
    bpmn = _process(f"""<bpmn:startEvent id="start"/>{_compensable("reserve", "Reserve quota")}
        <bpmn:endEvent id="fail"><bpmn:errorEventDefinition errorRef="boom"/></bpmn:endEvent>
        {_flow("start", "reserve", "fail")}
        <bpmn:subProcess id="on_error" triggeredByEvent="true">
          <bpmn:startEvent id="caught"><bpmn:errorEventDefinition errorRef="boom"/></bpmn:startEvent>
          {_throw("undo")}<bpmn:endEvent id="handled" name="handled"/>{_flow("caught", "undo", "handled")}
        </bpmn:subProcess>""").replace(b"<bpmn:process", b'<bpmn:error id="boom" errorCode="BOOM"/><bpmn:process')
    result = _run(tmp_path, bpmn)
    assert "Undo Reserve quota" in result.path and "handled" in result.path


@pytest.mark.parametrize("kind", ["error", "escalation"])
def test_an_error_or_escalation_event_subprocess_starts_only_when_its_event_is_thrown(tmp_path, kind):
    """SpiffWorkflow 3.2 reads neither on a start event, so such an event subprocess started with
    its process, as if its start were a none start."""
    bpmn = _process(f"""<bpmn:startEvent id="start"/>
        <bpmn:exclusiveGateway id="gw" default="fine"/>
        <bpmn:endEvent id="raise" name="raise"><bpmn:{kind}EventDefinition {kind}Ref="it"/></bpmn:endEvent>
        <bpmn:endEvent id="end" name="end"/>
        {_flow("start", "gw")}<bpmn:sequenceFlow id="fine" sourceRef="gw" targetRef="end"/>
        <bpmn:sequenceFlow id="bad" sourceRef="gw" targetRef="raise">
          <bpmn:conditionExpression>broken</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:subProcess id="on_it" triggeredByEvent="true">
          <bpmn:startEvent id="caught" name="caught"><bpmn:{kind}EventDefinition {kind}Ref="it"/></bpmn:startEvent>
          <bpmn:endEvent id="handled" name="handled"/>{_flow("caught", "handled")}
        </bpmn:subProcess>""").replace(
        b"<bpmn:process", f'<bpmn:{kind} id="it" {kind}Code="IT"/><bpmn:process'.encode())
    assert "caught" not in _run(tmp_path, bpmn, data={"broken": False}).path
    assert {"raise", "caught", "handled"} <= set(_run(tmp_path, bpmn, data={"broken": True}).path)


def test_a_process_level_compensation_event_subprocess_never_starts(tmp_path):
    bpmn = _process(f"""<bpmn:startEvent id="start"/>{_compensable("reserve", "Reserve quota")}
        <bpmn:endEvent id="end"/>{_flow("start", "reserve", "end")}
        <bpmn:subProcess id="on_compensation" triggeredByEvent="true">
          <bpmn:startEvent id="comp_start" name="comp_start"><bpmn:compensateEventDefinition/></bpmn:startEvent>
          {_throw("undo", "reserve")}<bpmn:endEvent id="comp_end"/>{_flow("comp_start", "undo", "comp_end")}
        </bpmn:subProcess>""")
    assert _run(tmp_path, bpmn).path == ["start", "Reserve quota", "end"]


def test_a_person_works_the_handler_from_the_inbox_across_saves(engine):
    """The handler is a user task: the instance waits (saved) at the throw until it is done, and
    what the person entered is the process's."""
    bpmn = _process(f"""<bpmn:startEvent id="start"/>
        {_compensable("reserve", "Reserve quota", handler="userTask")}
        {_throw("undo")}<bpmn:endEvent id="end"/>{_flow("start", "reserve", "undo", "end")}""", pid="refund")
    engine.registry.deploy({"refund.bpmn": bpmn})
    inst = engine.runtime.start("refund", tenant_id="t-alpha", initiator="alice")
    [task] = engine.inbox.list_tasks("t-alpha", "alice").items
    assert task.task_name == "Undo Reserve quota"
    with engine.db.read() as s:
        assert s.get(ProcessInstance, inst.id).status == "running"
    engine.inbox.complete("t-alpha", task.id, user="alice", data={"refunded": "42.00"})
    with engine.db.read() as s:
        row = s.scalar(select(ProcessInstance).where(ProcessInstance.id == inst.id))
        assert row.status == "completed"
        data = json.loads(row.state_json)["data"]
    assert data["refunded"] == "42.00" and data["reserve_done"] is True


@pytest.mark.parametrize(("body", "element", "message"), [
    ('<bpmn:startEvent id="start"/><bpmn:task id="a"/><bpmn:boundaryEvent id="a_comp" attachedToRef="a">'
     '<bpmn:compensateEventDefinition/></bpmn:boundaryEvent><bpmn:endEvent id="end"/>' + _flow("start", "a", "end"),
     "a_comp", "exactly one associated compensation handler"),
    ('<bpmn:startEvent id="start"/><bpmn:task id="a"/>' + _throw("undo", "a") + '<bpmn:endEvent id="end"/>'
     + _flow("start", "a", "undo", "end"), "undo", "compensates 'a', which has no compensation handler"),
    ('<bpmn:startEvent id="start"/><bpmn:intermediateCatchEvent id="wait"><bpmn:compensateEventDefinition/>'
     '</bpmn:intermediateCatchEvent><bpmn:endEvent id="end"/>' + _flow("start", "wait", "end"),
     "wait", "not caught by a intermediateCatchEvent"),
    ('<bpmn:startEvent id="start"/><bpmn:subProcess id="sub"><bpmn:startEvent id="s1"/><bpmn:endEvent id="s2"/>'
     + _flow("s1", "s2") + '<bpmn:subProcess id="on_comp" triggeredByEvent="true"><bpmn:startEvent id="c1">'
     '<bpmn:compensateEventDefinition/></bpmn:startEvent><bpmn:endEvent id="c2"/>' + _flow("c1", "c2")
     + '</bpmn:subProcess></bpmn:subProcess><bpmn:endEvent id="end"/>' + _flow("start", "sub", "end"),
     "c1", "a compensation event subprocess inside a subprocess is not supported"),
    ('<bpmn:startEvent id="start"/><bpmn:subProcess id="sub"><bpmn:startEvent id="s1"/>'
     + _compensable("inner", "Inner") + '<bpmn:endEvent id="s2"/>' + _flow("s1", "inner", "s2")
     + '</bpmn:subProcess>' + _throw("undo", "inner") + '<bpmn:endEvent id="end"/>'
     + _flow("start", "sub", "undo", "end"),
     "undo", "compensates 'inner', which has no compensation handler in this process"),  # not in its scope
])
def test_compensation_aicmp_does_not_run_is_refused_at_deploy(body, element, message):
    checked = validate_files({"p.bpmn": _process(body)}, max_bytes=1_000_000)
    assert not checked.ok
    [error] = checked.errors
    assert error.element_id == element and message in error.message, error
