"""BPMN data stores as process data.

SpiffWorkflow refuses a model with a ``dataStore`` unless the host registered an implementation
under the store's name; models drawn elsewhere (the BPMN MIWG suite, Camunda and Flowable
examples) use them freely. aicmp keeps each store as a process variable named by the store's id,
beside the data objects: a data input association copies it into the task's data (null before
anything was written), a data output association copies the task's value back and removes it from
the task. A task that did not set the variable leaves the store as it was.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.data_spec import BpmnDataStoreSpecification


def _top(my_task: Any) -> Any:
    workflow = my_task.workflow
    while getattr(workflow, "parent_workflow", None) is not None:
        workflow = workflow.parent_workflow
    return workflow


def _stores(my_task: Any) -> dict[str, Any]:
    """The top workflow's ``data_objects`` (SpiffWorkflow's own place for process data, shown to
    gateway conditions too), created on first write."""
    return _top(my_task).data.setdefault("data_objects", {})


class ProcessDataStore(BpmnDataStoreSpecification):
    """A data store kept in the instance's own data (``data_objects`` of the top workflow)."""

    def value(self, my_task: Any) -> Any:
        """What the store holds (null before anything was written); not a copy."""
        return _top(my_task).data.get("data_objects", {}).get(self.bpmn_id)

    def put(self, my_task: Any, value: Any) -> None:
        """Make ``value`` (not copied) what the store holds."""
        _stores(my_task)[self.bpmn_id] = value

    def get(self, my_task: Any, **_kwargs: Any) -> None:
        my_task.data[self.bpmn_id] = deepcopy(self.value(my_task))

    def set(self, my_task: Any, **_kwargs: Any) -> None:
        if self.bpmn_id in my_task.data:
            self.put(my_task, deepcopy(my_task.data.pop(self.bpmn_id)))


class ProcessDataStores:
    """Mixed into a parser: every ``dataStore`` of a file becomes a ``ProcessDataStore``."""

    def _add_data_stores(self, bpmn: Any) -> None:
        for store in bpmn.xpath(".//bpmn:dataStore", namespaces=self.namespaces):  # type: ignore[attr-defined]
            store_id = store.attrib.get("id")
            if not store_id:
                raise ValidationException("a data store has no id", node=store)
            self.data_stores[store_id] = ProcessDataStore(  # type: ignore[attr-defined]
                store_id, store.attrib.get("name") or store_id, store.attrib.get("capacity"),
                store.attrib.get("isUnlimited"))
