"""Per-evaluation budgets: iterations, int size, sequence size, memory and wall-clock time,
and `step_budget`, which caps the sum of all evaluations inside one process step.

Each evaluation gets a fresh `Budget`, published through a ContextVar so the guard
functions (shared, stateless module functions) find the budget of the call they run
in. ContextVars are per thread, so concurrent evaluations never share counters.

The clock is read between steps only, and a C call (one `divmod`, one `sort`) cannot be
interrupted, nor does it let other threads run: it holds the GIL. So every operation that
can be slow in C is bounded by its operands *before* it runs: no integer above
`Limits.max_int_bits` is ever built (that keeps `divmod`, `gcd`, `int <-> str` and friends
in the milliseconds), no string or container above `Limits.max_sequence`, and every
allocation the guards see is charged against `Limits.max_memory` for the whole evaluation.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from decimal import Decimal
from time import monotonic
from typing import NoReturn, TypeVar

from .errors import Problem, ScriptLimitExceeded, ScriptPolicyError

SCRIPT_FILENAME = "<string>"  # Spiff's error helper looks for this name in tracebacks.
_T = TypeVar("_T")
_LOG2_10 = math.log2(10)

STEP_MAX_SECONDS = 10.0
"""`step_budget` default: seconds all evaluations inside one step may run, added up."""
STEP_MAX_ITERATIONS = 1_000_000
"""`step_budget` default: loop iterations and calls of all evaluations inside one step."""
STEP_MAX_MEMORY = 256 * 2 ** 20
"""`step_budget` default: bytes (estimated) all evaluations inside one step may allocate."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one evaluation or execution may consume; override per environment.

    `max_memory` is a running total of the (estimated) bytes of every string, container and
    copy the evaluation builds through a guard, freed or not: 600 lines of `x = [0] * 999999`
    each pass the `max_sequence` check but together stop at this limit.
    """

    max_iterations: int = 100_000
    max_int_bits: int = 4096
    max_sequence: int = 1_000_000
    max_seconds: float = 2.0
    max_memory: int = 64 * 2 ** 20


class StepBudget:
    """Cumulative counters for every evaluation run inside one `step_budget` block."""

    __slots__ = ("max_seconds", "max_iterations", "max_memory", "seconds", "iterations", "memory",
                 "evaluations", "exceeded", "parent")

    def __init__(self, max_seconds: float, max_iterations: int, max_memory: int,
                 parent: StepBudget | None) -> None:
        self.max_seconds = max_seconds
        self.max_iterations = max_iterations
        self.max_memory = max_memory
        self.seconds = 0.0
        self.iterations = 0
        self.memory = 0
        self.evaluations = 0
        self.exceeded: ScriptLimitExceeded | None = None
        self.parent = parent

    def remaining(self) -> tuple[float, int, int]:
        """(seconds, iterations, bytes) left here and in every enclosing step."""
        seconds, iterations, memory = math.inf, sys.maxsize, sys.maxsize
        step: StepBudget | None = self
        while step is not None:
            seconds = min(seconds, step.max_seconds - step.seconds)
            iterations = min(iterations, step.max_iterations - step.iterations)
            memory = min(memory, step.max_memory - step.memory)
            step = step.parent
        return seconds, iterations, memory

    def record(self, seconds: float, iterations: int, memory: int) -> None:
        step: StepBudget | None = self
        while step is not None:
            step.seconds += seconds
            step.iterations += iterations
            step.memory += memory
            step.evaluations += 1
            step = step.parent

    def mark_exceeded(self, error: ScriptLimitExceeded) -> None:
        step: StepBudget | None = self
        while step is not None:
            if step.exceeded is None:
                step.exceeded = error
            step = step.parent

    def check_open(self) -> None:
        """Raise if an earlier evaluation already spent this step's budget."""
        step: StepBudget | None = self
        while step is not None:
            if step.exceeded is not None:
                raise ScriptLimitExceeded(step.exceeded.limit, str(step.exceeded))
            step = step.parent


_STEP: ContextVar[StepBudget | None] = ContextVar("aicmp_sandbox_step_budget", default=None)


@contextmanager
def step_budget(seconds: float = STEP_MAX_SECONDS, iterations: int = STEP_MAX_ITERATIONS,
                memory: int = STEP_MAX_MEMORY) -> Iterator[StepBudget]:
    """Cap the cumulative script time, iterations and allocation of every evaluation
    (script, condition, expression, DMN cell) that starts inside this block, in this thread.

    Each evaluation still has its own `Limits`; inside the block it also gets at most what
    the step has left, and once the step is spent every later evaluation in it raises
    `ScriptLimitExceeded` (limit "time", "iterations" or "memory") at its start, so a BPMN
    loop running a cheap script 1000 times is stopped like one long script. Blocks nest:
    an inner block's use also counts against the outer one. Yields the `StepBudget`, whose
    `seconds`, `iterations`, `memory` and `evaluations` say what was used.
    """
    if not (seconds > 0 and iterations > 0 and memory > 0):
        raise ValueError("step_budget limits must be positive")
    step = StepBudget(seconds, iterations, memory, _STEP.get())
    token = _STEP.set(step)
    try:
        yield step
    finally:
        _STEP.reset(token)


def current_step() -> StepBudget | None:
    """The innermost `step_budget` of this thread/context, if any."""
    return _STEP.get()


class Budget:
    """Counters for a single evaluation; never shared between calls or threads."""

    __slots__ = ("limits", "steps", "max_steps", "deadline", "exceeded", "memory", "max_memory",
                 "started", "step")

    def __init__(self, limits: Limits, step: StepBudget | None = None) -> None:
        self.limits = limits
        self.steps = 0
        self.memory = 0
        self.exceeded: ScriptLimitExceeded | None = None
        self.step = step
        self.started = now = monotonic()
        if step is None:
            self.max_steps = limits.max_iterations
            self.max_memory = limits.max_memory
            self.deadline = now + limits.max_seconds
            return
        step.check_open()
        seconds, iterations, memory = step.remaining()
        self.max_steps = min(limits.max_iterations, iterations)
        self.max_memory = min(limits.max_memory, memory)
        self.deadline = now + min(limits.max_seconds, seconds)
        if self.max_steps < 0 or self.max_memory < 0 or seconds <= 0:
            self._fail_step()

    def _by_step(self, own: float, allowed: float) -> bool:
        return self.step is not None and allowed < own

    def _fail_step(self) -> NoReturn:
        seconds, iterations, _memory = self.step.remaining() if self.step else (0, 0, 0)
        limit = "time" if seconds <= 0 else ("iterations" if iterations < 0 else "memory")
        self.fail(limit, "the scripts of this step together used up its budget")

    def tick(self) -> None:
        """Count one loop iteration or function call; check the clock every 8 ticks."""
        self.steps += 1
        if self.steps > self.max_steps:
            self._fail_iterations()
        if not self.steps & 7 and monotonic() > self.deadline:
            self._fail_time()

    def add_steps(self, count: int) -> None:
        """Charge `count` iterations at once (a C loop such as `list.sort` over `count` items)."""
        self.steps += count
        if self.steps > self.max_steps:
            self._fail_iterations()
        self.check_time()

    def _fail_iterations(self) -> NoReturn:
        if self._by_step(self.limits.max_iterations, self.max_steps):
            self.fail("iterations", "the scripts of this step ran more than "
                      f"{self.step.max_iterations if self.step else 0} loop iterations or calls in all")
        self.fail("iterations", f"more than {self.limits.max_iterations} loop iterations or calls")

    def _fail_time(self) -> NoReturn:
        if self._by_step(self.limits.max_seconds, self.deadline - self.started):
            self.fail("time", f"the scripts of this step ran longer than "
                      f"{self.step.max_seconds if self.step else 0} s in all")
        self.fail("time", f"ran longer than {self.limits.max_seconds} s")

    def check_time(self) -> None:
        if monotonic() > self.deadline:
            self._fail_time()

    def charge(self, nbytes: int) -> None:
        """Count `nbytes` (estimated) against the evaluation's running allocation total."""
        self.memory += nbytes
        if self.memory > self.max_memory:
            if self._by_step(self.limits.max_memory, self.max_memory):
                self.fail("memory", f"the scripts of this step allocated more than "
                          f"{self.step.max_memory if self.step else 0} bytes in all")
            self.fail("memory", f"allocated more than {self.limits.max_memory} bytes in all")

    def check_size(self, size: int, unit: int = 1) -> None:
        """Refuse building a string/sequence of `size` elements of about `unit` bytes each
        before it is allocated, and charge it to the evaluation's allocation total."""
        if size > self.limits.max_sequence:
            self.fail("sequence size", f"would build a sequence of {size} elements "
                      f"(limit {self.limits.max_sequence})")
        if size > 0:
            self.charge(size * unit)
        self.check_time()

    def check_bits(self, bits: float) -> None:
        """Refuse building an int of about `bits` bits before it is computed."""
        if bits > self.limits.max_int_bits:
            shown = f"about {bits:.0f}" if bits < 1e18 else "more than 10**18"
            self.fail("int size", f"would build an integer of {shown} bits (limit {self.limits.max_int_bits})")

    def check_operands(self, *values: object) -> None:
        """Refuse ints (and Decimals) above the size limit as operands of a C call whose cost
        grows with their size (divmod, gcd, isqrt, int <-> str): ints the sandbox builds never
        get there, but task data or a literal might."""
        limit = self.limits.max_int_bits
        for value in values:
            if isinstance(value, int):
                if value.bit_length() > limit:
                    self.fail("int size", f"an operand has {value.bit_length()} bits (limit {limit})")
            elif isinstance(value, Decimal):
                self.check_decimal_digits(value)

    def check_decimal_digits(self, value: Decimal) -> None:
        """Refuse a Decimal whose coefficient is longer than an int of `max_int_bits` bits."""
        if value.is_finite():
            self.check_digits(len(value.as_tuple().digits))

    def check_digits(self, digits: int) -> None:
        """Refuse a decimal number of more digits than an int of `max_int_bits` bits has."""
        if digits * _LOG2_10 > self.limits.max_int_bits:
            self.fail("int size", f"a number of {digits} digits (about {digits * _LOG2_10:.0f} bits, "
                      f"limit {self.limits.max_int_bits})")

    def check_number_text(self, text: object, base: int = 10) -> None:
        """`int(s, base)`, `float(s)`, `Decimal(s)`: refuse text whose number would exceed the
        int size limit; base 16 and the other powers of two skip Python's 4300-digit limit."""
        if isinstance(text, (str, bytes, bytearray)):
            bits_per_char = 4.0 if base == 0 else math.log2(base) if 2 <= base <= 36 else 0.0
            if len(text) * bits_per_char > self.limits.max_int_bits:
                bits = len(text.strip()) * bits_per_char
                if bits > self.limits.max_int_bits:
                    self.fail("int size", f"would convert {len(text)} characters of text to a number "
                              f"of about {bits:.0f} bits (limit {self.limits.max_int_bits})")

    def check_decimal_to_int(self, value: object) -> None:
        """int(Decimal('1e999999')) is legal but takes ~30 s; refuse it by exponent first."""
        if isinstance(value, Decimal) and value.is_finite() and value.adjusted() > 0:
            self.check_bits((value.adjusted() + 1) * _LOG2_10)

    def fail(self, limit: str, detail: str) -> NoReturn:
        """Raise, and stay failed: later ticks raise again even if the script caught this."""
        if self.exceeded is None:
            self.exceeded = ScriptLimitExceeded(limit, f"script budget exceeded ({limit}): {detail}")
            self.max_steps = -1
            self.max_memory = -1
        raise ScriptLimitExceeded(self.exceeded.limit, str(self.exceeded))

    def close(self) -> None:
        """At the end of the evaluation: add what it used to the enclosing step, if any; once
        the step is spent, every later evaluation inside it is refused at its start."""
        step = self.step
        if step is None:
            return
        step.record(monotonic() - self.started, self.steps, self.memory)
        seconds, iterations, memory = step.remaining()
        if seconds <= 0 or iterations < 0 or memory < 0:
            limit = "time" if seconds <= 0 else ("iterations" if iterations < 0 else "memory")
            step.mark_exceeded(self.exceeded if self.exceeded is not None and self.exceeded.limit == limit
                               else ScriptLimitExceeded(limit, f"script budget exceeded ({limit}): the "
                                                        "scripts of this step together used up its budget"))


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
