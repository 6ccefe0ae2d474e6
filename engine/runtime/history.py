"""Task history: a row whenever a BPMN task becomes READY, STARTED, COMPLETED, ERROR or CANCELLED.

The tracker snapshots task states before a batch of engine work and diffs after it, so every
transition SpiffWorkflow made in between is recorded without hooking its internals.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

RECORDED = {
    TaskState.READY: "READY",
    TaskState.STARTED: "STARTED",
    TaskState.COMPLETED: "COMPLETED",
    TaskState.ERROR: "ERROR",
    TaskState.CANCELLED: "CANCELLED",
}


def _is_bpmn_task(task: Any) -> bool:
    """Skip SpiffWorkflow's bookkeeping tasks (Root, Start, End, joins of the process itself)."""
    return getattr(task.task_spec, "bpmn_id", None) is not None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def snapshot(workflow: Any) -> dict[UUID, int]:
    return {t.id: t.state for t in workflow.get_tasks() if _is_bpmn_task(t)}


def changes(workflow: Any, before: dict[UUID, int], actor: str | None) -> list[dict[str, Any]]:
    """History rows (as dicts) for every recorded state a task reached since ``before``."""
    rows = []
    for task in workflow.get_tasks():
        if not _is_bpmn_task(task) or task.state not in RECORDED or before.get(task.id) == task.state:
            continue
        data = None
        if task.state == TaskState.COMPLETED and task.parent is not None:
            updated = DeepMerge.get_updated_keys(task.parent.data, task.data)
            data = _jsonable(updated) if updated else None
        spec = task.task_spec
        rows.append({
            "task_guid": str(task.id),
            "task_spec": spec.bpmn_id,
            "task_name": spec.bpmn_name,
            "task_type": type(spec).__name__,
            "state": RECORDED[task.state],
            "actor": actor if spec.manual else None,
            "data_changed": data,
        })
    return rows
