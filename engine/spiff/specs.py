"""Task specs aicmp adds to SpiffWorkflow: service tasks that call registered operators.

Both parsers (spiff and Camunda) produce a service task whose ``_execute`` hands the call to
the *service host* attached to the workflow's script engine. The host decides whether the
operator runs inline (result applied now) or asynchronously (task parked in STARTED until
the result arrives); see ``engine.runtime.services``.
"""

from __future__ import annotations

from typing import Any, Protocol

from SpiffWorkflow.bpmn.specs.defaults import ServiceTask as PlainServiceTask
from SpiffWorkflow.spiff.specs.defaults import ServiceTask as SpiffServiceTask


class ServiceHost(Protocol):
    def run_service(self, task: Any, operator: str, params: dict[str, Any]) -> bool | None:
        """Run or dispatch ``operator``; True = completed now, None = wait (task stays STARTED)."""


def _host(task: Any) -> ServiceHost:
    host = getattr(task.workflow.script_engine, "service_host", None)
    if host is None:
        raise RuntimeError("this workflow has no service host; load it through engine.runtime")
    return host


class OperatorServiceTask(SpiffServiceTask):
    """``<spiffworkflow:serviceTaskOperator id="...">``: parameters are evaluated in the sandbox."""

    def _execute(self, task: Any) -> bool | None:
        params = {name: p["value"] for name, p in self.evaluate_params(task).items()}
        return _host(task).run_service(task, self.operation_name, params)


class CamundaServiceTask(PlainServiceTask):
    """A service task drawn in Camunda Modeler; the operator is its external-task topic,
    delegate expression, class or expression, whichever the designer set. ``operation_params``:
    a method call's arguments (name -> JUEL), evaluated in the sandbox when the task runs."""

    def __init__(self, wf_spec: Any, bpmn_id: str, operation_name: str = "",
                 operation_params: dict[str, str] | None = None, result_variable: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.operation_name = operation_name
        self.operation_params = operation_params or {}
        self.result_variable = result_variable or f"{bpmn_id}_result"
        self.retries = None
        self.retry_backoff_base = None

    def _execute(self, task: Any) -> bool | None:
        engine = task.workflow.script_engine
        params = {name: engine.evaluate(task, source) for name, source in self.operation_params.items()}
        return _host(task).run_service(task, self.operation_name, params)
