"""Multi-instance collections drawn for Camunda 7 or Camunda 8, read as BPMN's own loop data.

Camunda Modeler draws a multi-instance activity's collection outside BPMN's loop data:

* Camunda 7 (and Flowable): ``camunda:collection="${hosts}" camunda:elementVariable="host"`` on
  the ``multiInstanceLoopCharacteristics``;
* Camunda 8: ``<zeebe:loopCharacteristics inputCollection="=documents" inputElement="document"
  outputCollection="results" outputElement="=result"/>`` in its extension elements.

BPMN 2.0 has ``loopDataInputRef``, ``inputDataItem``, ``loopDataOutputRef`` and
``outputDataItem``, which SpiffWorkflow reads. The parse sees a copy of the tree with the
collection references added (the stored and exported bytes stay as uploaded);
``LoopCollectionItems``, mixed into every task parser, then names the item variables (an added
``inputDataItem`` would need the variable's name as its XML id, which may be taken). The
collection must be a variable name (``${hosts}``, ``hosts``, ``=documents``); an expression there
(``${order.hosts}``, ``=count(x)``) is refused at deploy, naming it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.camunda.specs.multiinstance_task import ParallelMultiInstanceTask, SequentialMultiInstanceTask

from engine.spiff.camunda import CAMUNDA_NS, ZEEBE_NS
from engine.spiff.xmlcheck import BPMN_NS

_FEEL_NAME = re.compile(r"=?\s*([A-Za-z][A-Za-z0-9_]*)\s*")
_JUEL_NAME = re.compile(r"\s*(?:[$#]\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}|([A-Za-z][A-Za-z0-9_]*))\s*")
_ADDED = "{urn:aicmp}loopData"  # marks, in the parse's copy, loop data added from a Camunda collection
CAMUNDA_MULTI_INSTANCE = (ParallelMultiInstanceTask, SequentialMultiInstanceTask)
_STANDARD = ("loopCardinality", "loopDataInputRef", "loopDataOutputRef", "inputDataItem", "outputDataItem")


def _feel_name(value: str | None) -> str | None:
    m = _FEEL_NAME.fullmatch(value or "")
    return m.group(1) if m else None


def _juel_name(value: str | None) -> str | None:
    m = _JUEL_NAME.fullmatch(value or "")
    return (m.group(1) or m.group(2)) if m else None


@dataclass(frozen=True)
class Drawn:
    """A collection drawn for Camunda: where (for messages), as written, and the variables it names
    (``collection`` None: not a variable name; the output pair only when both are names)."""

    where: str
    written: str
    collection: str | None
    element: str | None
    results: str | None = None
    result: str | None = None


def drawn(characteristics: Any, *, added: bool = False) -> Drawn | None:
    """The collection a multi-instance marker names for Camunda 7 or 8; None when it names none or
    has BPMN's own loop data (``added``: count the loop data this module added as not there)."""
    if not added and any(characteristics.find(f"{{{BPMN_NS}}}{tag}") is not None for tag in _STANDARD):
        return None
    zeebe = characteristics.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}loopCharacteristics")
    if zeebe is not None and zeebe.get("inputCollection"):
        results, result = _feel_name(zeebe.get("outputCollection")), _feel_name(zeebe.get("outputElement"))
        if not (results and result):
            results = result = None
        return Drawn("zeebe:loopCharacteristics inputCollection", zeebe.get("inputCollection"),
                     _feel_name(zeebe.get("inputCollection")), _feel_name(zeebe.get("inputElement")), results, result)
    written = characteristics.get(f"{{{CAMUNDA_NS}}}collection")
    if written:
        return Drawn("camunda:collection", written, _juel_name(written),
                     _juel_name(characteristics.get(f"{{{CAMUNDA_NS}}}elementVariable")))
    return None


class LoopCollectionItems:
    """Mixed into every task parser: a multi-instance activity whose collection is drawn for
    Camunda gets its item variables (each instance's input element, and the output element
    collected); one whose collection is an expression is refused, naming it."""

    def _add_multiinstance_task(self, loop_characteristics: Any) -> None:
        added = loop_characteristics.get(_ADDED) is not None
        found = drawn(loop_characteristics, added=added)
        if found is not None and found.collection is None:
            raise ValidationException(
                f"{found.where} {found.written!r}: the collection must be a variable name (such as "
                "${items} or =items); an expression there is not supported",
                node=self.node, file_name=self.filename)  # type: ignore[attr-defined]
        super()._add_multiinstance_task(loop_characteristics)  # type: ignore[misc]
        task = self.task  # type: ignore[attr-defined]
        if found is None or not added or isinstance(task, CAMUNDA_MULTI_INSTANCE):
            return  # the Camunda parser reads camunda:collection itself, its own way
        task.input_item = TaskDataReference(found.element) if found.element else None
        task.output_item = TaskDataReference(found.result) if found.result else None


def with_standard_loops(tree: Any) -> Any:
    """``tree`` itself when no multi-instance activity names its collection only for Camunda;
    otherwise a copy in which each such one also has BPMN's collection references."""
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    tag = f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"
    if not any((d := drawn(el)) is not None and d.collection for el in root.iter(tag)):
        return tree
    tree = copy.deepcopy(tree)
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    for characteristics in root.iter(tag):
        found = drawn(characteristics)
        if found is None or found.collection is None:
            continue
        characteristics.set(_ADDED, "true")
        for local, text in (("loopDataInputRef", found.collection), ("loopDataOutputRef", found.results)):
            if text:
                characteristics.append(characteristics.makeelement(f"{{{BPMN_NS}}}{local}", {}))
                characteristics[-1].text = text
    return tree
