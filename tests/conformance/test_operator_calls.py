"""A service task names the operator aicmp calls however its modeler drew it: a Camunda 7 or
Flowable attribute (topic, class, delegate expression, expression), a method call with its
arguments, a Camunda 8 job type, or BPMN's own ``operationRef``; the result goes where
``resultVariable`` says."""

from __future__ import annotations

import json

import pytest
from lxml import etree
from sqlalchemy import select

from engine.models import ProcessInstance
from engine.spiff import camunda
from engine.spiff.loader import _parse_with
from engine.spiff.serializer import serializer, spec_to_json
from engine.validation import UNNAMED_OPERATOR, validate_files

NAMESPACES = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
              'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
              'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:flowable="http://flowable.org/bpmn" '
              'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:tns="urn:aicmp:test"')
INTERFACE = """<bpmn:message id="order"/>
  <bpmn:interface id="cloud" name="Cloud" implementationRef="tns:CloudApi">
    <bpmn:operation id="op1" name="Provision"><bpmn:inMessageRef>order</bpmn:inMessageRef></bpmn:operation>
    <bpmn:operation id="op2" name="Provision (v2)" implementationRef="tns:cloud.provision">
      <bpmn:inMessageRef>order</bpmn:inMessageRef></bpmn:operation>
  </bpmn:interface>"""


def _process(task: str, after: str = '<bpmn:endEvent id="end"/>', next_id: str = "end") -> bytes:
    """start -> ``task`` (a service task with id ``t``, drawn open) -> ``after`` (id ``next_id``)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NAMESPACES} id="d" targetNamespace="urn:aicmp:test">
  {INTERFACE}
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="t"/>
    {task}</bpmn:serviceTask>
    <bpmn:sequenceFlow id="f1" sourceRef="t" targetRef="{next_id}"/>
    {after}
  </bpmn:process>
</bpmn:definitions>""".encode()


def _task(bpmn: bytes) -> etree._Element:
    return etree.fromstring(bpmn).find(".//{http://www.omg.org/spec/BPMN/20100524/MODEL}serviceTask")


@pytest.mark.parametrize(("task", "operator"), [
    ('<bpmn:serviceTask id="t" camunda:topic="invoice/pay">', "invoice/pay"),
    ('<bpmn:serviceTask id="t" flowable:class="org.acme.Pay">', "org.acme.Pay"),
    ('<bpmn:serviceTask id="t" flowable:delegateExpression="${payer}">', "payer"),
    ('<bpmn:serviceTask id="t" camunda:expression="#{billing.charge(amount, 2)}">', "billing.charge"),
    ('<bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="gpu-provision"/>'
     '</bpmn:extensionElements>', "gpu-provision"),
    ('<bpmn:serviceTask id="t" operationRef="op1">', "Provision"),  # the operation's name
    ('<bpmn:serviceTask id="t" operationRef="tns:op2">', "cloud.provision"),  # its implementationRef first
    ('<bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="=kind + \'-job\'"/>'
     '</bpmn:extensionElements>', ""),  # a FEEL job type is chosen at run time: no name to check
    ('<bpmn:serviceTask id="t" operationRef="nowhere">', ""),
    ('<bpmn:serviceTask id="t" implementation="##WebService">', ""),
])
def test_the_operator_a_service_task_names(task: str, operator: str) -> None:
    assert camunda.operator_name(_task(_process(task))) == operator


def test_a_service_task_that_names_no_operator_deploys_with_a_warning_saying_so() -> None:
    """Nothing could run it: an instance that reaches it stops with an incident, as for an
    operator nobody registered."""
    checked = validate_files({"p.bpmn": _process('<bpmn:serviceTask id="t" implementation="##WebService">')},
                             max_bytes=1_000_000)
    assert checked.ok
    [warning] = checked.warnings
    assert warning.element_id == "t" and warning.message == UNNAMED_OPERATOR


def test_an_operator_nobody_registered_is_a_warning_naming_it() -> None:
    checked = validate_files({"p.bpmn": _process('<bpmn:serviceTask id="t" operationRef="op2">')},
                             max_bytes=1_000_000, known_operators={"quota/reserve"})
    assert checked.ok
    assert [str(w).split(": ", 1)[1] for w in checked.warnings] == ["operator 'cloud.provision' is not registered"]


@pytest.mark.parametrize("expression", ["${svc.run(x.__class__)}", "${svc.run(''.getClass())}", "${svc.run(a = 1)}"])
def test_a_method_call_whose_argument_is_outside_the_subset_is_refused_at_deploy(expression: str) -> None:
    bpmn = _process(f'<bpmn:serviceTask id="t" camunda:expression="{expression}">')
    checked = validate_files({"p.bpmn": bpmn}, max_bytes=1_000_000)
    assert not checked.ok
    [error] = checked.errors
    assert error.element_id == "t" and "JUEL outside the supported subset" in error.message


QUOTE = ('<bpmn:serviceTask id="t" flowable:expression="${pricing.quote(gpus, \'H100\', order.region)}" '
         'flowable:resultVariableName="offer">')
REVIEW = """<bpmn:exclusiveGateway id="gw" default="cheap"/>
    <bpmn:sequenceFlow id="dear" sourceRef="gw" targetRef="review">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"
        >${offer.prop('total').numberValue() &gt; 10}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="cheap" sourceRef="gw" targetRef="end"/>
    <bpmn:userTask id="review" name="Review the quote"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
    <bpmn:endEvent id="end"/>"""


def _quote_process() -> bytes:
    bpmn = _process(QUOTE, '<bpmn:exclusiveGateway id="gw" default="cheap"/>', "gw")
    return bpmn.replace(b'<bpmn:exclusiveGateway id="gw" default="cheap"/>', REVIEW.encode(), 1)


@pytest.mark.parametrize(("total", "reviewed"), [(12, True), (8, False)])
def test_a_method_call_passes_its_arguments_and_its_result_lands_in_the_result_variable(
        engine, operators, total: int, reviewed: bool) -> None:
    calls = []
    operators.operator("pricing.quote")(lambda **params: calls.append(params) or {"total": total})
    result = engine.registry.deploy({"quote.bpmn": _quote_process()})
    assert result.warnings == []
    inst = engine.runtime.start("p", tenant_id="t-alpha", initiator="alice",
                                variables={"gpus": 8, "order": {"region": "cn-north-1"}})
    assert calls == [{"gpus": 8, "arg2": "H100", "arg3": "cn-north-1"}]  # a variable by its name, else by place
    tasks = engine.inbox.list_tasks("t-alpha", "alice").items
    assert [t.task_name for t in tasks] == (["Review the quote"] if reviewed else [])
    with engine.db.read() as s:
        status = s.scalar(select(ProcessInstance.status).where(ProcessInstance.id == inst.id))
    assert status == ("running" if reviewed else "completed")


@pytest.mark.parametrize("kind", ["spiff", "camunda"])
def test_both_parsers_keep_the_call_s_arguments_and_result_variable_through_a_save(kind: str) -> None:
    [process] = _parse_with(kind, "quote.bpmn", etree.fromstring(_quote_process()).getroottree(), {})
    spec = process.spec.task_specs["t"]
    assert spec.operation_name == "pricing.quote" and spec.result_variable == "offer"
    restored = serializer(kind).registry.restore(json.loads(spec_to_json(kind, process.spec))).task_specs["t"]
    assert restored.operation_name == "pricing.quote" and restored.result_variable == "offer"
    assert restored.operation_params == spec.operation_params
    sources = {name: (p["value"] if isinstance(p, dict) else p) for name, p in spec.operation_params.items()}
    assert sources == {"gpus": "${gpus}", "arg2": "${'H100'}", "arg3": "${order . region}"}
