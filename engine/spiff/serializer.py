"""Serialization: specs once per definition, instance state without the spec.

One registry per parser kind: the spiff and Camunda configurations share class names
("UserTask", ...) that would collide in one registry. Workflow data may hold types SpiffWorkflow
cannot restore by itself: ``Decimal`` and ``date`` are registered; a user dict carrying a
``"typename"`` key is wrapped on the way out so restore does not mistake it for an object.

What the state keeps is checked on the way out, on the walk that escapes dicts anyway (task data
and each task's delta): str keys; str, bool, None, ints of at most ``MAX_INT_DIGITS`` digits,
finite floats and Decimals, dates, datetimes, timedeltas and UUIDs; lists and tuples (restored as
lists) and dicts, at most ``MAX_DEPTH`` deep. Anything else (bytes, sets, tuple or int keys, NaN,
objects, text with NUL or a lone surrogate, which no database column or UTF-8 response can hold)
raises ``Unstorable`` instead of being written wrong (an int key would come back a str, a set a
list) or failing somewhere inside ``json``. ``unstorable(value, name)`` says where and why.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers import BpmnDataSpecificationConverter, EventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG as SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.spiff.specs.defaults import ServiceTask as SpiffServiceTask

from engine.spiff.compensation import (
    COMPENSATING,
    CompensateEventDefinition,
    CompensationDone,
    CompensationStart,
)
from engine.spiff.data_mapping import MAPPINGS, DataMappingConverter
from engine.spiff.datastores import ProcessDataStore
from engine.spiff.multiinstance import LOCAL_ITEMS
from engine.spiff.specs import CamundaServiceTask, OperatorServiceTask
from engine.spiff.timer_events import BOUNDED

ESCAPED = "aicmp.dict"  # typename of a wrapped user dict that has its own "typename" key

MAX_DEPTH = 64  # lists/dicts nested in one task data variable
MAX_INT_DIGITS = 100  # as api.input_limits accepts: what the state keeps, a client can send back
_INT_LIMIT = 10**MAX_INT_DIGITS
_KEPT = frozenset({Decimal, date, datetime, timedelta, UUID})  # restored by the registry (ours or Spiff's)
_SURROGATE = re.compile("[\ud800-\udfff]")


class Unstorable(ValueError):
    """Workflow data the instance's state cannot keep as it is."""


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "U+0000 (NUL)"
    if not text.isascii() and _SURROGATE.search(text):
        return "a lone UTF-16 surrogate"
    return None


def _scalar_problem(value: Any) -> str | None:
    """What is wrong with a value that is not a dict, list or tuple (None: it is kept exactly)."""
    if value is None or value is True or value is False:
        return None
    if isinstance(value, str):
        problem = _text_problem(value)
        return f"a str containing {problem}" if problem else None
    if isinstance(value, int):
        return None if -_INT_LIMIT < value < _INT_LIMIT else f"an int of more than {MAX_INT_DIGITS} digits"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"the float {value!r} (JSON has no NaN or Infinity)"
    if type(value) in _KEPT:
        if isinstance(value, Decimal) and not value.is_finite():
            return f"Decimal('{value}') (not a finite number)"
        return None
    if isinstance(value, bytes | bytearray):
        return "bytes (JSON has no bytes: keep a str, e.g. value.decode())"
    if isinstance(value, set | frozenset):
        return "a set (keep a list)"
    return f"{_a(type(value).__name__)} object (only JSON values, Decimal and dates are kept)"


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key_problem(key: Any) -> str | None:
    if not isinstance(key, str):
        return f"{_a(type(key).__name__)} key {_short(key)} (keys must be str)"
    problem = _text_problem(key)
    return f"a key containing {problem}" if problem else None


def unstorable(value: Any, name: str, _depth: int = 1) -> str | None:
    """Why the variable ``name`` holding ``value`` cannot be stored, naming the place
    (``d[(1, 2)]``, ``items[3]``), or None when it can."""
    if isinstance(value, dict | list | tuple):
        if _depth > MAX_DEPTH:
            return f"{name.split('[', 1)[0]} is nested deeper than {MAX_DEPTH} levels"
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in pairs:
            if isinstance(value, dict) and (problem := _key_problem(key)):
                return f"{name} has {problem}"
            if problem := unstorable(item, f"{name}[{_short(key)}]", _depth + 1):
                return problem
        return None
    problem = _scalar_problem(value)
    return f"{name} holds {problem}" if problem else None


class _CamundaServiceTaskConverter(BpmnTaskSpecConverter):
    def to_dict(self, spec: CamundaServiceTask) -> dict[str, Any]:
        dct = self.get_default_attributes(spec)
        dct["operation_name"] = spec.operation_name
        dct["operation_params"] = spec.operation_params
        dct["result_variable"] = spec.result_variable
        return dct


class _CompensateConverter(EventDefinitionConverter):
    def to_dict(self, event_definition: CompensateEventDefinition) -> dict[str, Any]:
        return {**super().to_dict(event_definition), "activity_ref": event_definition.activity_ref,
                "in_event_subprocess": event_definition.in_event_subprocess}


class _StateConverter(BpmnWorkflowConverter):
    """An instance's state without its specs, which are stored once per definition (``spec_to_json``)
    and restored around it: SpiffWorkflow's converter turned every spec into a dict on each save,
    only for ``state_to_json`` to drop it (a quarter of the save's time)."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
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
        for spiff_class, ours in LOCAL_ITEMS.items():  # the same typenames: saved specs restore to ours
            cfg[ours] = cfg.pop(spiff_class)
    else:
        cfg = dict(CAMUNDA_CONFIG)
        cfg[CamundaServiceTask] = _CamundaServiceTaskConverter
    # aicmp's timers under SpiffWorkflow's typenames (the same class names): specs and state saved
    # before they existed restore to them too
    for spiff_class, ours in BOUNDED.items():
        cfg[ours] = cfg.pop(spiff_class)
    cfg[ProcessDataStore] = BpmnDataSpecificationConverter  # data stores as process data
    for base, ours in COMPENSATING.items():  # compensation (engine.spiff.compensation)
        cfg[ours] = cfg[base]
    cfg[CompensationStart] = cfg[CompensationDone] = BpmnTaskSpecConverter
    cfg[CompensateEventDefinition] = _CompensateConverter
    for mapping in MAPPINGS:  # data associations between both their ends
        cfg[mapping] = DataMappingConverter
    cfg[BpmnWorkflow] = _StateConverter
    return cfg


@cache
def serializer(kind: str) -> BpmnWorkflowSerializer:
    """The serializer for definitions parsed by the ``kind`` parser ('spiff' or 'camunda')."""
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config(kind), _Registry()))


def _escape(value: Any, depth: int = 0) -> Any:
    """Wrap dicts with a "typename" key; returns the same object when nothing needs it. Raises
    Unstorable for what the state cannot keep (``unstorable`` then says where). On the hot path:
    each common type is decided by one type check."""
    kind = type(value)
    if kind is str:
        if value.isascii() and "\x00" not in value:
            return value
    elif kind is int:
        if -_INT_LIMIT < value < _INT_LIMIT:
            return value
    elif kind is dict:
        return _escape_dict(value, depth)
    elif kind is list or kind is tuple:
        return _escape_list(value, depth)
    elif value is None or kind is bool:
        return value
    elif kind is float:
        if math.isfinite(value):
            return value
    elif kind in _KEPT:
        if kind is not Decimal or value.is_finite():
            return value
    elif isinstance(value, dict):
        return _escape_dict(value, depth)
    elif isinstance(value, list | tuple):
        return _escape_list(value, depth)
    problem = _scalar_problem(value)
    if problem is not None:
        raise Unstorable(f"data holds {problem}")
    return value


def _escape_dict(value: dict, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise Unstorable(f"data nested deeper than {MAX_DEPTH} levels")
    try:
        keys = "".join(value)  # in C: a TypeError if a key is not a str
    except TypeError:
        keys = "\x00"
    if not keys.isascii() or "\x00" in keys:
        for key in value:
            if problem := _key_problem(key):
                raise Unstorable(f"data has {problem}")
    items = {k: _escape(v, depth + 1) for k, v in value.items()}
    if "typename" in value:
        return {"typename": ESCAPED, "items": items}
    return items if any(items[k] is not value[k] for k in value) else value


def _escape_list(value: list | tuple, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise Unstorable(f"data nested deeper than {MAX_DEPTH} levels")
    items = [_escape(v, depth + 1) for v in value]
    return items if any(a is not b for a, b in zip(items, value, strict=True)) else value


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
        dct = ser.to_dict(workflow)  # without the specs (``_StateConverter``)
        _escape_workflow_data(dct)
        dct[ser.VERSION_KEY] = ser.VERSION
        return json.dumps(dct, cls=ser._encoder_cls, separators=(",", ":"), allow_nan=False)
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
