"""Helpers shared by test modules (fixtures live in conftest.py files)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from engine.config import Settings
from engine.core import Engine
from engine.models import Tenant
from tasks.registry import OperatorRegistry

DATA = Path(__file__).parent / "engine" / "data"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # where the ``frozen`` clock fixture starts
# The shared BPMN conformance corpus: AICMP_CONFORMANCE_DIR, else ../shared/conformance beside the
# checkout. Absent, its tests skip with one line; AICMP_REQUIRE_CONFORMANCE=1 (set by .ci/run only)
# makes that a failure instead.
CONFORMANCE = Path(os.environ.get("AICMP_CONFORMANCE_DIR")
                   or Path(__file__).resolve().parents[2] / "shared" / "conformance").expanduser().resolve()
CONFORMANCE_REQUIRED = os.environ.get("AICMP_REQUIRE_CONFORMANCE", "") not in ("", "0")
CONFORMANCE_MISSING = (f"conformance corpus not found at {CONFORMANCE}: put it there (../shared/conformance "
                       "beside the checkout) or point AICMP_CONFORMANCE_DIR at it")


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def make_engine(url: str, tmp_path: Path, operators: OperatorRegistry | None = None) -> Engine:
    """An Engine on ``url`` (schema migrated) with tenants t-alpha and t-beta."""
    eng = Engine(Settings(var_dir=tmp_path, database_url=url),
                 operators=operators if operators is not None else OperatorRegistry())
    with eng.db.write() as s:
        s.add_all([Tenant(id="t-alpha", code="alpha", name="Alpha"), Tenant(id="t-beta", code="beta", name="Beta")])
    return eng


def one_service_task(process_id: str, operator: str, result: str, params: dict[str, tuple[str, str]],
                     task_id: str = "call") -> bytes:
    """A process that runs one service task: ``operator`` with ``params`` (name -> (type, expression)),
    its result in ``result``. For tests that need a process around one operator call."""
    parameters = "".join(f'<spiffworkflow:parameter id="{name}" type="{kind}" value="{value}"/>'
                         for name, (kind, value) in params.items())
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="{task_id}">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="{result}">
          <spiffworkflow:parameters>{parameters}</spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="{task_id}"/>
    <bpmn:sequenceFlow id="f2" sourceRef="{task_id}" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode()
