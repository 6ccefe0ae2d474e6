"""Exception and problem types shared by the sandbox modules and its callers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a script or expression is refused; `line` is 1-based (0 when unknown)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ScriptPolicyError(Exception):
    """The source does something the sandbox never allows (found at deploy, compile or run time).

    `args[0]` is always a plain string: Spiff's error helper concatenates it.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "refused by the script policy")

    def __reduce__(self) -> tuple[type[ScriptPolicyError], tuple[list[Problem]]]:
        # Celery may pickle exceptions; the default reduce would call __init__ with the message.
        return (type(self), (self.problems,))


class ScriptLimitExceeded(Exception):
    """One evaluation ran over its budget; `limit` names which one.

    `limit` is one of "iterations", "int size", "sequence size", "memory" or "time"; inside a
    `budget.step_budget` block the same limits also cap all evaluations of the step together.
    """

    def __init__(self, limit: str, message: str) -> None:
        self.limit = limit
        super().__init__(message)

    def __reduce__(self) -> tuple[type[ScriptLimitExceeded], tuple[str, str]]:
        return (type(self), (self.limit, str(self)))
