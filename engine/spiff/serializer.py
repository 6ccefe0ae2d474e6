"""Serialization: specs once per definition, instance state without the spec.

One registry per parser kind: the spiff and Camunda configurations share class names
("UserTask", ...) that would collide in one registry. Workflow data may hold types SpiffWorkflow
cannot restore by itself: ``Decimal`` and ``date`` are registered; a user dict carrying a
``"typename"`` key is wrapped on the way out so restore does not mistake it for an object.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG as SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.spiff.specs.defaults import ServiceTask as SpiffServiceTask

from engine.spiff.specs import CamundaServiceTask, OperatorServiceTask

ESCAPED = "aicmp.dict"  # typename of a wrapped user dict that has its own "typename" key


class _CamundaServiceTaskConverter(BpmnTaskSpecConverter):
    def to_dict(self, spec: CamundaServiceTask) -> dict[str, Any]:
        dct = self.get_default_attributes(spec)
        dct["operation_name"] = spec.operation_name
        return dct


class _Registry(DefaultRegistry):
    """Adds Decimal, date and the escaped-dict wrapper to SpiffWorkflow's registry."""

    def __init__(self) -> None:
        super().__init__()
        self.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]), "aicmp.Decimal")
        self.register(date, lambda v: {"value": v.isoformat()}, lambda d: date.fromisoformat(d["value"]),
                      "aicmp.date")
        self.convert_from_dict[ESCAPED] = lambda d, **kw: {k: self.restore(v) for k, v in d["items"].items()}


def _config(kind: str) -> dict:
    if kind == "spiff":
        cfg = dict(SPIFF_CONFIG)
        cfg.pop(SpiffServiceTask, None)
        cfg[OperatorServiceTask] = ServiceTaskConverter
    else:
        cfg = dict(CAMUNDA_CONFIG)
        cfg[CamundaServiceTask] = _CamundaServiceTaskConverter
    return cfg


@cache
def serializer(kind: str) -> BpmnWorkflowSerializer:
    """The serializer for definitions parsed by the ``kind`` parser ('spiff' or 'camunda')."""
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config(kind), _Registry()))


def _escape(value: Any) -> Any:
    """Wrap dicts with a "typename" key; returns the same object when nothing needs it."""
    if isinstance(value, dict):
        items = {k: _escape(v) for k, v in value.items()}
        changed = any(items[k] is not value[k] for k in value)
        if "typename" in value:
            return {"typename": ESCAPED, "items": items}
        return items if changed else value
    if isinstance(value, list):
        items = [_escape(v) for v in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


def _escape_workflow_data(dct: dict[str, Any]) -> None:
    dct["data"] = _escape(dct.get("data", {}))
    for task in dct.get("tasks", {}).values():
        task["data"] = _escape(task["data"])
        if task.get("delta"):
            task["delta"]["updates"] = _escape(task["delta"]["updates"])
    for sub in dct.get("subprocesses", {}).values():
        _escape_workflow_data(sub)


def spec_to_json(kind: str, spec: BpmnProcessSpec) -> str:
    return json.dumps(serializer(kind).registry.convert(spec), separators=(",", ":"))


def specs_to_json(kind: str, specs: dict[str, BpmnProcessSpec]) -> str:
    registry = serializer(kind).registry
    return json.dumps({name: registry.convert(spec) for name, spec in specs.items()}, separators=(",", ":"))


def state_to_json(kind: str, workflow: BpmnWorkflow) -> str:
    """The instance's state without its specs (they are stored once per definition)."""
    ser = serializer(kind)
    ser.registry._encoder_mode = True
    try:
        dct = ser.to_dict(workflow)
        dct.pop("spec")
        dct.pop("subprocess_specs")
        _escape_workflow_data(dct)
        dct[ser.VERSION_KEY] = ser.VERSION
        return json.dumps(dct, cls=ser._encoder_cls, separators=(",", ":"))
    finally:
        ser.registry._encoder_mode = False


def state_from_json(kind: str, text: str, spec: BpmnProcessSpec,
                    subprocess_specs: dict[str, BpmnProcessSpec]) -> BpmnWorkflow:
    """Restore an instance around already-restored (shared, immutable) spec objects."""
    ser = serializer(kind)
    dct = json.loads(text)
    ser.migrate(dct)
    dct["spec"] = spec
    dct["subprocess_specs"] = dict(subprocess_specs)
    return ser.from_dict(dct)
