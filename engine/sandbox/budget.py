"""Per-evaluation budgets: iterations, int size, sequence size and wall-clock time.

Each evaluation gets a fresh `Budget`, published through a ContextVar so the guard
functions (shared, stateless module functions) find the budget of the call they run
in. ContextVars are per thread, so concurrent evaluations never share counters.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass
from decimal import Decimal
from time import monotonic
from typing import NoReturn, TypeVar

from .errors import Problem, ScriptLimitExceeded, ScriptPolicyError

SCRIPT_FILENAME = "<string>"  # Spiff's error helper looks for this name in tracebacks.
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Limits:
    """What one evaluation or execution may consume; override per environment."""

    max_iterations: int = 100_000
    max_int_bits: int = 4096
    max_sequence: int = 1_000_000
    max_seconds: float = 2.0


class Budget:
    """Counters for a single evaluation; never shared between calls or threads."""

    __slots__ = ("limits", "steps", "max_steps", "deadline", "exceeded")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.steps = 0
        self.max_steps = limits.max_iterations
        self.deadline = monotonic() + limits.max_seconds
        self.exceeded: ScriptLimitExceeded | None = None

    def tick(self) -> None:
        """Count one loop iteration or function call; check the clock every 8 ticks."""
        self.steps += 1
        if self.steps > self.max_steps:
            self.fail("iterations", f"more than {self.limits.max_iterations} loop iterations or calls")
        if not self.steps & 7 and monotonic() > self.deadline:
            self.fail("time", f"ran longer than {self.limits.max_seconds} s")

    def check_time(self) -> None:
        if monotonic() > self.deadline:
            self.fail("time", f"ran longer than {self.limits.max_seconds} s")

    def check_size(self, size: int) -> None:
        """Refuse building a string/sequence of `size` elements before it is allocated."""
        if size > self.limits.max_sequence:
            self.fail("sequence size", f"would build a sequence of {size} elements "
                      f"(limit {self.limits.max_sequence})")
        self.check_time()

    def check_bits(self, bits: float) -> None:
        """Refuse building an int of about `bits` bits before it is computed."""
        if bits > self.limits.max_int_bits:
            shown = f"about {bits:.0f}" if bits < 1e18 else "more than 10**18"
            self.fail("int size", f"would build an integer of {shown} bits (limit {self.limits.max_int_bits})")

    def check_decimal_to_int(self, value: object) -> None:
        """int(Decimal('1e999999')) is legal but takes ~30 s; refuse it by exponent first."""
        if isinstance(value, Decimal) and value.is_finite() and value.adjusted() > 0:
            self.check_bits((value.adjusted() + 1) * math.log2(10))

    def fail(self, limit: str, detail: str) -> NoReturn:
        """Raise, and stay failed: later ticks raise again even if the script caught this."""
        if self.exceeded is None:
            self.exceeded = ScriptLimitExceeded(limit, f"script budget exceeded ({limit}): {detail}")
            self.max_steps = -1
        raise ScriptLimitExceeded(self.exceeded.limit, str(self.exceeded))


_ACTIVE: ContextVar[Budget | None] = ContextVar("aicmp_sandbox_budget", default=None)


def activate(budget: Budget) -> Token[Budget | None]:
    """Make `budget` the one guards charge in this thread/context; pass the token to deactivate."""
    return _ACTIVE.set(budget)


def deactivate(token: Token[Budget | None]) -> None:
    _ACTIVE.reset(token)


def current() -> Budget:
    """The active budget; guards used outside an evaluation fail closed."""
    budget = _ACTIVE.get()
    if budget is None:
        raise ScriptPolicyError([Problem(0, "sandbox helper used outside an evaluation")])
    return budget


def script_line() -> int:
    """Line of the innermost sandboxed frame, for error messages raised by guards."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == SCRIPT_FILENAME:
            return frame.f_lineno or 0
        frame = frame.f_back
    return 0


def refuse(message: str) -> NoReturn:
    """Raise a run-time policy error that points at the script line being run."""
    raise ScriptPolicyError([Problem(script_line(), message)])


def counted(budget: Budget, iterator: Iterator[_T]) -> Iterator[_T]:
    """Yield from `iterator`, charging one iteration per item."""
    tick = budget.tick
    for item in iterator:
        tick()
        yield item


def guarded_iter(obj: Iterable[_T]) -> Iterator[_T]:
    """`_getiter_`: every for-loop and comprehension pulls its items through here."""
    return counted(current(), iter(obj))


def tick() -> None:
    """`_tick_`: inserted at the top of while bodies and script-defined functions."""
    current().tick()
