"""A model cannot keep the engine busy inside a transaction: step limit and per-step script budget."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import DeploymentRejected
from engine.models import Incident
from engine.runtime import steps

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')


def loop_without_scripts() -> bytes:
    """start -> join -> a -> again -(default)-> join ...: no condition, no script, nothing to wait for."""
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="d" targetNamespace="http://t">'
            '<bpmn:process id="spin" isExecutable="true"><bpmn:startEvent id="start"/>'
            '<bpmn:exclusiveGateway id="join"/><bpmn:intermediateThrowEvent id="a"/>'
            '<bpmn:exclusiveGateway id="again" default="f3"/>'
            '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="join"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="join" targetRef="a"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="again"/>'
            '<bpmn:sequenceFlow id="f3" sourceRef="again" targetRef="join"/>'
            '</bpmn:process></bpmn:definitions>').encode()


def test_a_loop_without_scripts_stops_at_the_step_limit_with_an_incident(engine):
    engine.registry.deploy({"spin.bpmn": loop_without_scripts()})
    inst = engine.runtime.start("spin", tenant_id="t-alpha")
    assert inst.status == "incident"
    with engine.db.read() as s:
        [incident] = s.scalars(select(Incident).where(Incident.instance_id == inst.id)).all()
    assert incident.kind == "step-limit" and f"more than {steps.MAX_STEPS} engine steps" in incident.message


def test_a_loop_without_a_gateway_is_refused_at_deploy_not_a_recursion_at_start(engine):
    bpmn = (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="d" targetNamespace="http://t">'
            '<bpmn:process id="cycle" isExecutable="true"><bpmn:startEvent id="start"/>'
            '<bpmn:task id="a"/><bpmn:task id="b"/>'
            '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="a"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="a" targetRef="b"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="b" targetRef="a"/>'
            '</bpmn:process></bpmn:definitions>').encode()
    with pytest.raises(DeploymentRejected) as refused:
        engine.registry.deploy({"cycle.bpmn": bpmn})
    assert "loops back" in str(refused.value.errors[0])
