"""Camunda 8 (Zeebe) multi-instance collections, read as BPMN's own loop data.

Camunda 8 Modeler draws a multi-instance activity's collection in an extension,
``<zeebe:loopCharacteristics inputCollection="=documents" inputElement="document"
outputCollection="results" outputElement="=result"/>``, where BPMN 2.0 has
``loopDataInputRef``, ``inputDataItem``, ``loopDataOutputRef`` and ``outputDataItem``, which
SpiffWorkflow reads. The parse sees a copy of the tree with the two collection references added
(the stored and exported bytes stay as uploaded); ``ZeebeLoopItems``, mixed into every task
parser, then names the item variables (an added ``inputDataItem`` would need the variable's name
as its XML id, which may be taken). Only plain variable names are translated (``=documents``, a
FEEL name); a FEEL expression there is left alone, so deploy refuses the activity for want of
loop data, naming it.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference

from engine.spiff.camunda import ZEEBE_NS

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_NAME = re.compile(r"=?\s*([A-Za-z][A-Za-z0-9_]*)\s*")
_ADDED = "{urn:aicmp}zeebeLoopData"  # marks, in the parse's copy, loop data added from the extension
_STANDARD = ("loopCardinality", "loopDataInputRef", "loopDataOutputRef", "inputDataItem", "outputDataItem")


def _name(value: str | None) -> str | None:
    """The variable a Zeebe attribute names: ``=x`` (FEEL) or ``x``; None for anything else."""
    m = _NAME.fullmatch(value or "")
    return m.group(1) if m else None


def _zeebe_loop(characteristics: Any) -> Any:
    """The ``zeebe:loopCharacteristics`` of a multi-instance marker that has no BPMN loop data."""
    if any(characteristics.find(f"{{{BPMN}}}{tag}") is not None for tag in _STANDARD):
        return None
    return characteristics.find(f"{{{BPMN}}}extensionElements/{{{ZEEBE_NS}}}loopCharacteristics")


def _names(zeebe: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """(collection, element, results, result): the variables ``zeebe`` names; the output pair only
    when both are plain names."""
    results, result = _name(zeebe.get("outputCollection")), _name(zeebe.get("outputElement"))
    if not (results and result):
        results = result = None
    return _name(zeebe.get("inputCollection")), _name(zeebe.get("inputElement")), results, result


class ZeebeLoopItems:
    """Mixed into every task parser: a multi-instance activity whose collection is named for Zeebe
    gets its item variables (each instance's input element, and the output element collected)."""

    def _add_multiinstance_task(self, loop_characteristics: Any) -> None:
        super()._add_multiinstance_task(loop_characteristics)  # type: ignore[misc]
        zeebe = loop_characteristics.find(f"{{{BPMN}}}extensionElements/{{{ZEEBE_NS}}}loopCharacteristics")
        if zeebe is None or loop_characteristics.get(_ADDED) is None:
            return
        _collection, element, _results, result = _names(zeebe)
        task = self.task  # type: ignore[attr-defined]
        task.input_item = TaskDataReference(element) if element else None
        task.output_item = TaskDataReference(result) if result else None


def with_standard_loops(tree: Any) -> Any:
    """``tree`` itself when no multi-instance activity names its collection only for Zeebe;
    otherwise a copy in which each such one also has BPMN's loop data elements."""
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    tag = f"{{{BPMN}}}multiInstanceLoopCharacteristics"
    if not any(_zeebe_loop(el) is not None for el in root.iter(tag)):
        return tree
    tree = copy.deepcopy(tree)
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    for characteristics in root.iter(tag):
        zeebe = _zeebe_loop(characteristics)
        if zeebe is None:
            continue
        collection, _element, results, _result = _names(zeebe)
        if collection is None:
            continue
        characteristics.set(_ADDED, "true")
        for local, text in (("loopDataInputRef", collection), ("loopDataOutputRef", results)):
            if text:
                characteristics.append(characteristics.makeelement(f"{{{BPMN}}}{local}", {}))
                characteristics[-1].text = text
    return tree
