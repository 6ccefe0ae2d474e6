"""Task data that cannot be stored becomes an incident, never a failed save.

Two places catch it:

- a script (``AicmpScriptEngine.execute``) that leaves such a value fails like any failing script:
  its task goes to ERROR with its data as it was before the script, and the step loop raises a
  ``script-error`` incident naming the variable; retry runs the script again, cancel ends it;
- anything else that slips a value in (an operator's in-place change, a nested mutation of an
  existing list) is found here, when the instance is saved: ``state_json`` serializes as usual
  (the serializer checks what it writes, on the walk it makes anyway: no cost while all is well)
  and, only if that fails, removes each variable that cannot be stored from the workflow's data
  and raises an ``unstorable-data`` incident per variable, naming it, the problem and the task
  that first held it. The instance is saved with the rest of its state: loadable, retryable,
  cancellable.

What can be stored: ``engine.spiff.serializer`` (``unstorable`` says why a value cannot).
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine.runtime.services import IncidentNote
from engine.spiff.serializer import state_to_json, unstorable

KIND = "unstorable-data"
MAX_INCIDENTS = 10  # one incident per variable, at most this many for one save

_SERIALIZER_FAILURES = (TypeError, ValueError, OverflowError, RecursionError)  # Unstorable is a ValueError


def state_json(loaded: Any) -> str:
    """The state of ``loaded`` (an ``instances.Loaded``) to store; unstorable data becomes incidents."""
    try:
        return state_to_json(loaded.kind, loaded.workflow)
    except _SERIALIZER_FAILURES:
        if not remove_unstorable(loaded.workflow, loaded.host.incidents):
            raise  # not in task data: a bug to see, not data to drop
    return state_to_json(loaded.kind, loaded.workflow)


def _holders(workflow: Any) -> list[tuple[Any, dict]]:
    """(task or None, data dict) for the process data and each task's data, tasks in creation order,
    the instance's own workflow first, then its subprocesses."""
    out: list[tuple[Any, dict]] = []
    for wf in (workflow, *workflow.subprocesses.values()):
        out.append((None, wf.data))
        for task in wf.tasks.values():
            out.append((task, task.data))
            out.append((task, task.internal_data))
    return out


def remove_unstorable(workflow: Any, incidents: list[IncidentNote]) -> int:
    """Remove every variable that cannot be stored from ``workflow``'s data; append an incident note
    per variable to ``incidents``. Returns how many variables were found."""
    first: dict[str, tuple[Any, str]] = {}  # variable -> (task that first held it, problem)
    for task, data in _holders(workflow):
        for name, value in list(data.items()):
            label = name if isinstance(name, str) else f"(key {name!r})"
            if not isinstance(name, str):
                problem = f"task data has a {type(name).__name__} key {name!r} (variable names must be str)"
            else:
                problem = unstorable(value, name if name.isprintable() else ascii(name)[1:-1])
            if problem is None:
                continue
            del data[name]
            first.setdefault(label, (task, problem))
    for label, (task, problem) in list(first.items())[:MAX_INCIDENTS]:
        where = f" (first held by task {task.task_spec.bpmn_id or task.task_spec.name!r})" if task is not None else ""
        incidents.append(IncidentNote(task, KIND, f"task data that cannot be stored was removed: {problem}{where}; "
                                                  f"variable {label!r} is no longer set"))
    return len(first)


def drop_finished_subprocesses(workflow: Any) -> int:
    """Remove the subprocesses (call activities, embedded subprocesses) that have finished and
    whose task in the caller has finished too: nothing can reach them again (a return walks the
    ancestors of a live task; what they did is in ``task_history``), and keeping them made the
    stored state, and every load and save, grow with each pass of a loop through them. Done on
    load, before the step's history snapshot, so the step that finishes one still records it.
    Returns how many were removed."""
    removed = 0
    for task_id, subprocess in list(workflow.subprocesses.items()):
        if task_id not in workflow.subprocesses or not subprocess.is_completed():
            continue  # removed with its parent already, or still running
        caller = workflow.get_task_from_id(task_id)
        if caller is None or not caller.has_state(TaskState.FINISHED_MASK):
            continue
        nested = sum(1 for sp in workflow.subprocesses.values() if sp.parent_workflow is subprocess)
        workflow.delete_subprocess(caller)
        removed += 1 + nested
    return removed
