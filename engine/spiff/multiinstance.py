"""Multi-instance activities whose input item is each instance's own, as BPMN 2.0 says.

An instance's ``inputDataItem`` (Zeebe's ``inputElement``) is local to it. SpiffWorkflow merges
all of a finished instance's data into the activity's when no output is collected, the item
included, and then refuses to create the next instance because the item "already exists": a loop
over two documents without an output fails on the second. Here the input and output items stay
with their instance; everything else an instance set is merged as before.

The classes keep SpiffWorkflow's names (``LOCAL_ITEMS``), so definitions and instances saved
before them restore to them.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.spiff.specs.defaults import ParallelMultiInstanceTask, SequentialMultiInstanceTask


class _LocalItems:
    def merge_child(self, workflow: Any, child: Any) -> None:
        """SpiffWorkflow's merge (which then starts the next instance or finishes), with the items
        out of the child's data while it merges; put back after, so the instance keeps them."""
        if self.data_output is not None and self.output_item is not None:  # type: ignore[attr-defined]
            super().merge_child(workflow, child)  # type: ignore[misc]
            return
        items = [item.bpmn_id for item in (self.input_item, self.output_item)  # type: ignore[attr-defined]
                 if item is not None]
        kept = {name: child.data.pop(name) for name in items if name in child.data}
        try:
            super().merge_child(workflow, child)  # type: ignore[misc]
        finally:
            child.data.update(kept)


def _local(cls: type) -> type:
    return type(cls.__name__, (_LocalItems, cls), {"__module__": __name__, "__qualname__": cls.__qualname__})


LOCAL_ITEMS: dict[type, type] = {cls: _local(cls) for cls in (ParallelMultiInstanceTask, SequentialMultiInstanceTask)}
"""SpiffWorkflow's spiff-parser multi-instance spec classes -> aicmp's, of the same names."""
