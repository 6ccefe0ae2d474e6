"""Operators: what BPMN service tasks do, registered by name.

An operator is a plain function: keyword parameters in, a JSON-able result out. It never
imports ``engine``; the engine looks operators up here, dispatches them (inline or through
Celery) and applies their results to the waiting BPMN task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["inline", "async"]


class OperatorError(Exception):
    """A business failure an operator reports; the engine turns it into a BPMN error.

    ``code`` is matched against ``errorCode`` of the model's error boundary events.
    """

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass(frozen=True)
class Operator:
    name: str
    func: Callable[..., Any]
    mode: Mode = "inline"
    description: str = ""
    timeout_s: float | None = None

    def __call__(self, **params: Any) -> Any:
        return self.func(**params)


@dataclass
class OperatorRegistry:
    """Name -> operator. One process-wide instance (``REGISTRY``); tests may build their own."""

    _operators: dict[str, Operator] = field(default_factory=dict)

    def register(self, op: Operator) -> Operator:
        existing = self._operators.get(op.name)
        if existing is not None and existing.func is not op.func:
            raise ValueError(f"operator {op.name!r} is already registered by {existing.func.__module__}")
        self._operators[op.name] = op
        return op

    def operator(
        self, name: str, *, mode: Mode = "inline", description: str = "", timeout_s: float | None = None
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: ``@REGISTRY.operator("quota/reserve")``."""

        def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
            doc = description or (func.__doc__ or "").strip().splitlines()[0:1]
            text = doc if isinstance(doc, str) else (doc[0] if doc else "")
            self.register(Operator(name, func, mode, text, timeout_s))
            return func

        return wrap

    def get(self, name: str) -> Operator | None:
        return self._operators.get(name)

    def names(self) -> list[str]:
        return sorted(self._operators)

    def unregister(self, name: str) -> None:
        self._operators.pop(name, None)


REGISTRY = OperatorRegistry()
operator = REGISTRY.operator
