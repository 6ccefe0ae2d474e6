"""The script engine every aicmp workflow runs with: the sandbox plus a service host."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from engine.sandbox import SandboxEnvironment
from engine.spiff import feel, juel
from engine.spiff.durations import InvalidTimer
from engine.spiff.serializer import unstorable

SANDBOX = SandboxEnvironment()  # stateless between calls and thread-safe: one per process
_MISSING = object()


class AicmpScriptEngine(PythonScriptEngine):
    """Evaluates everything in the sandbox; service tasks reach ``service_host``."""

    def __init__(self, service_host: Any = None, environment: SandboxEnvironment | None = None) -> None:
        super().__init__(environment=environment or SANDBOX)
        self.service_host = service_host
        self.refused_timers: list[InvalidTimer] = []  # this step's, in order (engine.timers refuses a start)

    def refuse_timer(self, task: Any, error: InvalidTimer) -> None:
        """A timer's value was refused (``engine.spiff.timer_events``): an incident on ``task``;
        without a service host, the error is raised."""
        if self.service_host is None:
            raise error
        from engine.runtime.services import IncidentNote  # the runtime imports this module

        self.refused_timers.append(error)
        self.service_host.incidents.append(IncidentNote(task, "timer-error", error.message))

    def evaluate(self, task: Any, expression: str, external_context: dict[str, Any] | None = None) -> Any:
        """Evaluate in the sandbox; a JUEL expression (``${...}``, Camunda 7 models) is first
        compiled to the Python the sandbox checks (``engine.spiff.juel``), never run any other way."""
        if juel.is_juel(expression):
            try:
                source = juel.to_python(expression)
            except juel.JuelUnsupported as exc:
                raise WorkflowTaskException(f"Error evaluating expression '{expression}': unsupported JUEL: {exc}",
                                            task=task) from None
            external_context = {**juel.helpers(task.data), **(external_context or {})}
            try:
                return super().evaluate(task, source, external_context)
            except WorkflowTaskException as exc:
                exc.add_note(f"(JUEL {expression!r})")
                raise
        if feel.DATA in expression:  # a FEEL or XPath condition, compiled at parse (engine.spiff.feel)
            external_context = {**(external_context or {}), **feel.helpers(*feel.scopes_of(task, external_context))}
        return super().evaluate(task, expression, external_context)

    def execute(self, task: Any, script: str | None, external_context: dict[str, Any] | None = None) -> Any:
        """Run a script; one that leaves a value the instance cannot store (bytes, a set, a tuple key,
        NaN, a huge int, ...) fails like a script that raised: its task data is put back as it was
        and the task errors, naming the variable (engine.runtime.storable)."""
        if not script:  # a script task drawn without a script does nothing, like a plain task
            return None
        if juel.uses_helpers(script):  # compiled JUEL (camunda:inputOutput mappings)
            external_context = {**juel.helpers(task.data), **(external_context or {})}
        before = dict(task.data)
        result = super().execute(task, script, external_context)
        for name, value in task.data.items():
            if before.get(name, _MISSING) is value:  # untouched (an in-place change is caught at save)
                continue
            problem = unstorable(value, name if name.isprintable() else ascii(name)[1:-1])
            if problem is not None:
                task.data.clear()
                task.data.update(before)
                raise WorkflowTaskException(f"the script left task data that cannot be stored: {problem}", task=task)
        return result
