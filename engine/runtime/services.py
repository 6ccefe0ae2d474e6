"""The service host: what happens when a workflow reaches a service task.

An operator found in the registry runs inline (its JSON-able result lands in the task's
result variable) or, when it is asynchronous and a dispatcher is attached, is queued as a job to
send after the transaction commits. Failures are collected, not raised, so the step loop can
turn an ``OperatorError`` into a BPMN error and anything else into an incident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from engine.spiff import camunda
from tasks.ports import Refused
from tasks.registry import Operator, OperatorError


@dataclass(frozen=True)
class InstanceScope:
    """The process instance an operator runs for: the ports it calls reach only this tenant's rows,
    and only the objects this instance was started for (its business key).

    ``internal``: the instance's process is one its domain starts itself (``Runtime.internal_keys``),
    so its business key was checked by that domain's service before the start; a process started
    by a request may have been given any business key, and the domain ports refuse to change
    objects for it.
    """

    tenant_id: str
    process_key: str
    initiator: str | None = None
    business_key: str | None = None
    internal: bool = False


_SCOPE: ContextVar[InstanceScope | None] = ContextVar("aicmp_instance_scope", default=None)


def current_scope() -> InstanceScope | None:
    """The instance whose service task is running in this context, if any."""
    return _SCOPE.get()


@contextmanager
def running_for(scope: InstanceScope | None) -> Iterator[None]:
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)


@dataclass
class OperatorFailure:
    task: Any
    operator: str
    error: OperatorError


@dataclass
class IncidentNote:
    task: Any
    kind: str  # operator-missing | operator-error | script-error | bpmn-error
    message: str
    error_code: str | None = None
    operator: str | None = None


@dataclass
class Job:
    task: Any
    operator: str
    params: dict[str, Any]


_SCALARS = (str, int, float, bool, type(None), Decimal, date)


def to_json_value(value: Any) -> Any:
    """A copy of an operator result made of JSON-able types (plus Decimal and dates, which the
    serializer keeps exact); anything else is the operator's bug and raises TypeError."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("operator result has a dict with non-string keys")
        return {k: to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    raise TypeError(f"operator result holds a {type(value).__name__}, which is not JSON")


@dataclass
class ServiceHost:
    resolve: Callable[[str], Operator | None]
    async_enabled: bool = False
    scope: InstanceScope | None = None  # None only outside an instance (bpmn simulate)
    failures: list[OperatorFailure] = field(default_factory=list)
    incidents: list[IncidentNote] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (task spec, operator), in order

    def run_service(self, task: Any, operator: str, params: dict[str, Any]) -> bool | None:
        self.calls.append((task.task_spec.name, operator))
        op = self.resolve(operator)
        if op is None:
            what = f"operator {operator!r} is not registered" if operator else "service task names no operator"
            self.incidents.append(IncidentNote(task, "operator-missing", what, operator=operator or None))
            return None
        if (op.mode == "async" or camunda.async_before(task.task_spec)) and self.async_enabled:
            self.jobs.append(Job(task, operator, params))
            return None
        try:
            with running_for(self.scope):
                result = to_json_value(op(**params))
        except OperatorError as exc:
            self.failures.append(OperatorFailure(task, operator, exc))
            return None
        except Refused as exc:  # a port's refusal is the BPMN error its code names, for every operator
            self.failures.append(OperatorFailure(task, operator, OperatorError(exc.code, exc.message)))
            return None
        except Exception as exc:  # noqa: BLE001 - an operator bug becomes an incident, not a crash
            self.incidents.append(IncidentNote(task, "operator-error", f"{type(exc).__name__}: {exc}",
                                               operator=operator))
            return None
        task.data[task.task_spec.result_variable] = result
        return True
