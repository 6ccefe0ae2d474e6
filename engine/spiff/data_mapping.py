"""BPMN data mapping: a data association copies a value between any two items that hold data.

SpiffWorkflow reads only one end of an association: an input association's ``sourceRef`` (a data
object or data store reference, copied into the task's data under the item's id) and an output
association's ``targetRef`` (the task's variable of that id copied back). BPMN 2.0 also maps
between the task's own ``ioSpecification`` and the process's data: an input association can read
a data object, a data store or the process's ``dataInput`` into the task's own ``dataInput``; an
output association can write the task's own ``dataOutput`` to a data object, a data store or the
process's ``dataOutput``. ``DataMappingParsers`` (mixed into every task and event parser) resolves
both ends and, where one end is the task's own input or output, builds an ``InputMapping`` or
``OutputMapping``; every other association is resolved as SpiffWorkflow resolves it, so what ran
before runs the same.

Where each item's value lives:

- a data object: the process's ``data_objects`` (SpiffWorkflow's place; null until written);
- a data store: process data too (``engine.spiff.datastores``; null until written);
- the process's ``ioSpecification`` input or output: the instance's variable named by its id, as
  SpiffWorkflow names a called process's inputs and outputs (start data gives an input);
- the task's own input or output: the task's variable named by its id, which SpiffWorkflow's
  ``ioSpecification`` check requires (inputs before the task runs, outputs when it completes).

An input mapping copies before the task runs, an output mapping after it completes. A source
without a value (a process input the start did not give, a task output the task did not set)
leaves the target as it was, as a task that did not set a store's variable leaves the store: an
input the task declares is then reported missing by SpiffWorkflow ("Missing data input"), never
filled with null. The task's own variables are the task's: its inputs are removed from its data
when it completes, its outputs once the last association reading them has copied them.
``assignment`` and ``transformation`` expressions are not evaluated: the value is copied as it is.
"""

from __future__ import annotations

import re
from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.parser.util import first
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer.helpers.bpmn_converter import BpmnConverter
from SpiffWorkflow.bpmn.specs.data_spec import (
    BpmnDataSpecification,
    BpmnDataStoreSpecification,
    DataObject,
    TaskDataReference,
)

from engine.spiff.datastores import ProcessDataStore

_MISSING = object()
_XML_ID = re.compile(r"[^\W\d][\w.\-]{0,199}")  # an NCName, as BPMN ids are: no quote, no XPath


def _scope(my_task: Any, bpmn_id: str) -> Any:
    """The (sub)workflow whose process defines the data object ``bpmn_id``, as SpiffWorkflow
    finds it; None when none does."""
    workflow = my_task.workflow
    while workflow is not None and bpmn_id not in workflow.spec.data_objects:
        workflow = workflow.parent_workflow
    return workflow


def _read(item: BpmnDataSpecification, my_task: Any) -> Any:
    """The value ``item`` holds for ``my_task``, or ``_MISSING``."""
    if isinstance(item, DataObject):
        workflow = _scope(my_task, item.bpmn_id)
        if workflow is None:
            return _MISSING
        return workflow.data_objects.get(item.bpmn_id, _MISSING)
    if isinstance(item, ProcessDataStore):
        return item.value(my_task)
    return my_task.data.get(item.bpmn_id, _MISSING)


def _write(item: BpmnDataSpecification, my_task: Any, value: Any) -> None:
    if isinstance(item, DataObject):
        workflow = _scope(my_task, item.bpmn_id)
        if workflow is not None:
            workflow.data.setdefault("data_objects", {})[item.bpmn_id] = value
    elif isinstance(item, ProcessDataStore):
        item.put(my_task, value)
    else:
        my_task.data[item.bpmn_id] = value


class _Mapping(BpmnDataSpecification):
    """One data association between two items (``source`` and ``target``)."""

    def __init__(self, bpmn_id: str, bpmn_name: str | None = None, source: BpmnDataSpecification | None = None,
                 target: BpmnDataSpecification | None = None, consumes: bool = False) -> None:
        super().__init__(bpmn_id, bpmn_name)
        self.source = source
        self.target = target
        self.consumes = consumes

    def _copy(self, my_task: Any) -> None:
        value = _read(self.source, my_task)
        if value is not _MISSING:
            _write(self.target, my_task, deepcopy(value))


class InputMapping(_Mapping):
    """A data input association into the task's own ``dataInput`` (``target``). Its ``bpmn_id``
    is the target's, so SpiffWorkflow removes the task's copy when the task completes."""

    def get(self, my_task: Any, **_kwargs: Any) -> None:
        self._copy(my_task)


class OutputMapping(_Mapping):
    """A data output association from the task's own ``dataOutput`` (``source``); ``consumes``:
    the last association reading that output removes it from the task's data."""

    def set(self, my_task: Any, **_kwargs: Any) -> None:
        self._copy(my_task)
        if self.consumes:
            my_task.data.pop(self.source.bpmn_id, None)


class DataMappingConverter(BpmnConverter):
    """Saves a mapping with both of its ends (each by its own registered converter)."""

    def to_dict(self, spec: _Mapping) -> dict[str, Any]:
        return {"bpmn_id": spec.bpmn_id, "bpmn_name": spec.bpmn_name, "consumes": spec.consumes,
                "source": self.registry.convert(spec.source), "target": self.registry.convert(spec.target)}

    def from_dict(self, dct: dict[str, Any]) -> _Mapping:
        dct = dict(dct)
        dct["source"] = self.registry.restore(dct["source"])
        dct["target"] = self.registry.restore(dct["target"])
        return self.target_class(**dct)


MAPPINGS = (InputMapping, OutputMapping)

_OWN = ("./bpmn:ioSpecification/bpmn:dataInput", "./bpmn:ioSpecification/bpmn:dataOutput",
        "./bpmn:dataInput", "./bpmn:dataOutput")  # the last two: an event's own items
_PROCESS = ("./bpmn:ioSpecification/bpmn:dataInput", "./bpmn:ioSpecification/bpmn:dataOutput")


class DataMappingParsers:
    """Mixed into a task or event parser: both ends of each data association are resolved (see
    the module's docstring); an association SpiffWorkflow resolves keeps SpiffWorkflow's spec."""

    def parse_incoming_data_references(self) -> list[BpmnDataSpecification]:
        specs: list[BpmnDataSpecification] = []
        for association in self.xpath("./bpmn:dataInputAssociation"):  # type: ignore[attr-defined]
            target_ref = first(association.xpath("./bpmn:targetRef", namespaces=self.nsmap))  # type: ignore[attr-defined]
            target = self._own_item(target_ref.text if target_ref is not None else None)
            for source_ref in association.xpath("./bpmn:sourceRef", namespaces=self.nsmap):  # type: ignore[attr-defined]
                source = self._resolve_item(source_ref.text)
                if source is None:
                    self._unresolved("dataInputAssociation", source_ref)
                if target is not None:
                    specs.append(InputMapping(target.bpmn_id, association.get("name"), source, target))
                elif not isinstance(source, TaskDataReference):
                    specs.append(source)  # SpiffWorkflow's: the item's value under its own id
                # a process variable with no target of the task's own: already there, by its id
        return specs

    def parse_outgoing_data_references(self) -> list[BpmnDataSpecification]:
        specs: list[BpmnDataSpecification] = []
        for association in self.xpath("./bpmn:dataOutputAssociation"):  # type: ignore[attr-defined]
            target_ref = first(association.xpath("./bpmn:targetRef", namespaces=self.nsmap))  # type: ignore[attr-defined]
            target = self._resolve_item(target_ref.text) if target_ref is not None else None
            if target is None:
                self._unresolved("dataOutputAssociation", target_ref if target_ref is not None else association)
            sources = [self._own_item(ref.text)
                       for ref in association.xpath("./bpmn:sourceRef", namespaces=self.nsmap)]  # type: ignore[attr-defined]
            own = [s for s in sources if s is not None]
            for source in own:
                specs.append(OutputMapping(source.bpmn_id, association.get("name"), source, target))
            if not own and not isinstance(target, TaskDataReference):
                specs.append(target)  # SpiffWorkflow's: the task's variable of the item's id
            # a process output with no source of the task's own: the task's variable of its id is it
        last: dict[str, OutputMapping] = {}
        for spec in specs:
            if isinstance(spec, OutputMapping):
                last[spec.source.bpmn_id] = spec
        for spec in last.values():
            spec.consumes = True
        return specs

    def _unresolved(self, kind: str, node: Any) -> None:
        raise ValidationException(f"Cannot resolve {kind} {node.text if node is not None else ''!r}",
                                  self.node, self.filename)  # type: ignore[attr-defined]

    def _own_item(self, item_id: str | None) -> TaskDataReference | None:
        """The task's own ``dataInput``/``dataOutput`` with this id (None: not one)."""
        if not item_id:
            return None
        for path in _OWN:
            for elem in self.xpath(path):  # type: ignore[attr-defined]
                if elem.get("id") == item_id:
                    return TaskDataReference(item_id, elem.get("name"))
        return None

    def _resolve_item(self, item_id: str | None) -> BpmnDataSpecification | None:
        """The data object, data store or process input or output (a ``TaskDataReference``: the
        instance's variable of that id) with this id; None: none of them."""
        if not item_id or not _XML_ID.fullmatch(item_id):  # it goes into an XPath: an id, nothing else
            return None
        return self._data_object(item_id) or self._data_store(item_id) or self._process_item(item_id)

    def _data_object(self, item_id: str) -> DataObject | None:
        parser = self.process_parser  # type: ignore[attr-defined]
        ref = parser.get_data_object_reference(item_id)
        if ref is None:
            ref = first(self.doc_xpath(f".//bpmn:dataObjectReference[@id='{item_id}']"))  # type: ignore[attr-defined]
        object_id = ref.get("dataObjectRef") if ref is not None else item_id  # or the data object itself
        while parser is not None:
            if object_id in parser.spec.data_objects:
                return parser.spec.data_objects[object_id]
            parser = parser.parent
        return None

    def _data_store(self, item_id: str) -> BpmnDataStoreSpecification | None:
        parser = self.process_parser  # type: ignore[attr-defined]
        stores = parser.data_stores
        ref = parser.get_data_store_reference(item_id)
        if ref is None:
            ref = first(self.doc_xpath(f".//bpmn:dataStoreReference[@id='{item_id}']"))  # type: ignore[attr-defined]
        if ref is None:
            return stores.get(item_id)  # the data store itself
        if ref.get("dataStoreRef") in stores:
            return stores[ref.get("dataStoreRef")]
        if not ref.get("dataStoreRef"):  # a reference naming no store is a store of its own
            return ProcessDataStore(item_id, ref.get("name") or item_id)
        return None

    def _process_item(self, item_id: str) -> TaskDataReference | None:
        """An ``ioSpecification`` input or output of the process (or of a sub-process) around the
        task."""
        for ancestor in self.node.iterancestors():  # type: ignore[attr-defined]
            for path in _PROCESS:
                for elem in ancestor.xpath(path, namespaces=self.nsmap):  # type: ignore[attr-defined]
                    if elem.get("id") == item_id:
                        return TaskDataReference(item_id, elem.get("name"))
        return None
