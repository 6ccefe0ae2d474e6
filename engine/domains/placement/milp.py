"""One solve, honestly reported: HiGHS (highspy) first, PuLP's bundled CBC as the fallback.

Every MILP solve gets a time limit and a relative gap. What it says is read from the solver, not
from ``LpStatus``: PuLP maps HiGHS's "time limit reached" to ``LpStatusOptimal`` (the trap measured
in docs/environment.md), so the status here comes from ``LpSolution[problem.sol_status]`` and, for
HiGHS, from the model status and the dual bound it reports; the value is recomputed from the
solution PuLP hands back, and "optimal" is claimed only when that value is within the gap of the
bound. CBC runs as a command; its bound is read from its log.

``Outcome.status``: ``optimal`` (proved within the gap), ``time_limit`` (stopped by the limit with
an incumbent: ``gap`` and ``bound`` say how far from proved it may be), ``infeasible``, or
``no_solution`` (stopped before any incumbent). Problems are always minimised here; a stage that
maximises negates its objective. ``solve(..., mip=False)`` solves the LP relaxation, whose value
is a proven bound for the MILP; ``warm=True`` hands HiGHS the variables' current values as its
first incumbent (measured: it helps a cost tie-break, which starts next to its answer, and slows a
stage whose start is far from it, so only tie-breaks ask for it).

The fallback: HiGHS is used when highspy imports; when it is missing or breaks (a load, presolve
or solve error, not a time limit), the same problem goes to CBC with the time that is left.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any

import pulp

DEFAULT_GAP = 0.005  # proved within 0.5% of the bound: the issue asks for 1% of the optimum


@dataclass(frozen=True)
class Outcome:
    status: str  # optimal | time_limit | infeasible | no_solution
    value: float | None  # the incumbent's objective (minimised)
    bound: float | None  # the best proven lower bound on it
    gap: float | None  # (value - bound) / |value|; 0 when proved exactly
    seconds: float
    solver: str  # highs | cbc
    limit_s: float

    @property
    def has_solution(self) -> bool:
        return self.status in ("optimal", "time_limit")


def relative_gap(value: float, bound: float) -> float:
    return max(0.0, value - bound) / max(abs(value), 1e-9)


class SolverFailed(RuntimeError):
    """The solver broke (not: ran out of time); the caller may try the other one."""


_banner_lock = threading.Lock()
_banner_done = False


def _swallow_banner() -> None:
    """HiGHS writes its banner to file descriptor 1 on the first ``Highs()`` of a process, before
    any option can silence it; it would break ``aicmp placement solve --json``. Build that first
    one with fd 1 pointed at /dev/null, once."""
    global _banner_done
    with _banner_lock:
        if _banner_done:
            return
        import highspy

        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_done = True


def highs_available() -> bool:
    try:
        import highspy  # noqa: F401

        return bool(pulp.HiGHS(msg=False).available())
    except Exception:  # noqa: BLE001 - a broken highspy install means: use CBC
        return False


class _StartedHighs(pulp.HiGHS):  # type: ignore[misc, valid-type]
    """PuLP's highspy solver, handed the variables' current values as its first incumbent."""

    def callSolver(self, lp: Any) -> None:  # noqa: N802 - PuLP's name
        import highspy

        variables = lp.variables()
        if all(v.varValue is not None for v in variables):
            start = highspy.HighsSolution()
            start.col_value = [float(v.varValue) for v in variables]
            start.value_valid = True
            lp.solverModel.setSolution(start)
        lp.solverModel.run()


def _solve_highs(problem: pulp.LpProblem, limit_s: float, gap: float, mip: bool, warm: bool = False) -> Outcome:
    import highspy

    _swallow_banner()
    kind = _StartedHighs if warm and mip else pulp.HiGHS
    solver = kind(msg=False, timeLimit=max(limit_s, 0.01), gapRel=gap, mip=mip)
    started = time.perf_counter()
    problem.solve(solver)
    seconds = time.perf_counter() - started
    model = problem.solverModel
    status, info, S = model.getModelStatus(), model.getInfo(), highspy.HighsModelStatus
    if status in (S.kNotset, S.kLoadError, S.kModelError, S.kPresolveError, S.kSolveError, S.kPostsolveError):
        raise SolverFailed(f"HiGHS: {model.modelStatusToString(status)}")
    if status in (S.kInfeasible, S.kUnboundedOrInfeasible):
        return Outcome("infeasible", None, None, None, seconds, "highs", limit_s)
    if pulp.LpSolution[problem.sol_status] not in ("Optimal Solution Found", "Solution Found"):
        return Outcome("no_solution", None, None, None, seconds, "highs", limit_s)
    value = float(problem.objective.value() or 0.0)  # of the solution returned, not HiGHS's own figure
    if not mip:
        return Outcome("optimal" if status == S.kOptimal else "time_limit", value,
                       value if status == S.kOptimal else None, 0.0, seconds, "highs", limit_s)
    bound = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else None
    if bound is not None:
        bound = min(bound, value)
    proved = None if bound is None else relative_gap(value, bound)
    if status == S.kOptimal and proved is not None and proved <= gap * 1.01 + 1e-9:
        return Outcome("optimal", value, bound, proved, seconds, "highs", limit_s)
    return Outcome("time_limit", value, bound, proved, seconds, "highs", limit_s)


_CBC_BOUND = re.compile(r"^Lower bound:\s+(\S+)", re.M)
_CBC_RESULT = re.compile(r"^Result - (.+)$", re.M)


def _solve_cbc(problem: pulp.LpProblem, limit_s: float, gap: float, mip: bool) -> Outcome:
    fd, log = tempfile.mkstemp(prefix="aicmp-cbc-", suffix=".log")
    os.close(fd)
    try:
        with warnings.catch_warnings():  # PuLP 3.3 announces the bundled CBC's removal in 4.0; it is pinned
            warnings.simplefilter("ignore", DeprecationWarning)
            solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=max(limit_s, 0.01), gapRel=gap, logPath=log, mip=mip)
        started = time.perf_counter()
        problem.solve(solver)
        seconds = time.perf_counter() - started
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(log)
    solution = pulp.LpSolution[problem.sol_status]
    result = (_CBC_RESULT.findall(text) or [""])[-1].lower()
    if "infeasible" in result or pulp.LpStatus[problem.status] == "Infeasible":
        return Outcome("infeasible", None, None, None, seconds, "cbc", limit_s)
    if solution not in ("Optimal Solution Found", "Solution Found"):
        return Outcome("no_solution", None, None, None, seconds, "cbc", limit_s)
    value = float(problem.objective.value() or 0.0)
    if not mip:
        return Outcome("optimal", value, value, 0.0, seconds, "cbc", limit_s)
    found = _CBC_BOUND.findall(text)
    bound = min(float(found[-1]), value) if found else None
    if solution == "Optimal Solution Found" and "optimal" in result:
        bound = value if bound is None else bound
        return Outcome("optimal", value, bound, relative_gap(value, bound), seconds, "cbc", limit_s)
    return Outcome("time_limit", value, bound, None if bound is None else relative_gap(value, bound), seconds,
                   "cbc", limit_s)


def solve(problem: pulp.LpProblem, *, limit_s: float, gap: float = DEFAULT_GAP, solver: str = "auto",
          mip: bool = True, warm: bool = False) -> Outcome:
    """Minimise ``problem`` within ``limit_s`` seconds and relative ``gap`` (``mip=False``: its LP
    relaxation). ``solver``: ``auto`` (HiGHS, CBC when HiGHS is missing or fails), ``highs`` or
    ``cbc``. ``warm``: HiGHS starts from the variables' current values (they must meet every row)."""
    started = time.perf_counter()
    if solver == "highs" or (solver == "auto" and highs_available()):
        try:
            return _solve_highs(problem, limit_s, gap, mip, warm)
        except (pulp.PulpSolverError, SolverFailed, ImportError):
            if solver == "highs":
                raise
    left = max(limit_s - (time.perf_counter() - started), 0.05)
    return _solve_cbc(problem, left, gap, mip)
