"""What the CLI and the port call: JSON in, plans (or a what-if) as JSON out.

Input mistakes raise ``InstanceError`` with ``{field, message}`` for each: the instance's fields,
``objectives``, ``weights.<name>``, ``time_limit_s``. An instance that cannot be fully placed is
not a mistake: it gets plans and explanations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.domains.placement import whatif
from engine.domains.placement.instance import InstanceError, parse
from engine.domains.placement.model import Weights
from engine.domains.placement.solve import DEFAULT_TIME_LIMIT_S, OBJECTIVES, STANDARD, Options, solve_plans

MAX_TIME_LIMIT_S = 600.0
SOLVERS = ("auto", "highs", "cbc")


def weights(data: Any) -> Weights | None:
    """``{"cost": a, "performance": b, "balance": c}``: numbers, zero or more, not all zero."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise InstanceError([{"field": "weights", "message": "must be an object with cost, performance, balance"}])
    errors, out = [], {}
    for key in data:
        if key not in ("cost", "performance", "balance"):
            errors.append({"field": f"weights.{key}", "message": "is not cost, performance or balance"})
    for key in ("cost", "performance", "balance"):
        raw = data.get(key, 0)
        try:
            value = Decimal(str(raw))
        except (InvalidOperation, ValueError):
            value = Decimal(-1)
        if isinstance(raw, bool) or not value.is_finite() or value < 0 or value > 1_000_000:
            errors.append({"field": f"weights.{key}", "message": "must be a number from 0 to 1000000"})
        else:
            out[key] = float(value)
    if not errors and not any(out.values()):
        errors.append({"field": "weights", "message": "at least one weight must be above zero"})
    if errors:
        raise InstanceError(errors)
    return Weights(**out)


def options(time_limit_s: Any = None, solver: str = "auto") -> Options:
    limit = DEFAULT_TIME_LIMIT_S if time_limit_s is None else time_limit_s
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 < limit <= MAX_TIME_LIMIT_S:
        raise InstanceError([{"field": "time_limit_s", "message": f"must be a number of seconds, above 0 and at most "
                                                                  f"{MAX_TIME_LIMIT_S:g}"}])
    if solver not in SOLVERS:
        raise InstanceError([{"field": "solver", "message": f"must be one of {', '.join(SOLVERS)}"}])
    return Options(time_limit_s=float(limit), solver=solver)


def objectives(wanted: Sequence[str] | None, custom: bool) -> list[str]:
    """The objectives to solve: ``wanted``, or the three standard ones (and custom with weights)."""
    if wanted is None:
        return [*STANDARD, *(["custom"] if custom else [])]
    if isinstance(wanted, str) or not isinstance(wanted, Sequence) or not wanted:
        raise InstanceError([{"field": "objectives", "message": "must be a non-empty list"}])
    bad = [o for o in wanted if o not in OBJECTIVES]
    if bad:
        raise InstanceError([{"field": "objectives", "message": f"{bad[0]!r} is not one of {', '.join(OBJECTIVES)}"}])
    if "custom" in wanted and not custom:
        raise InstanceError([{"field": "weights", "message": "the custom objective needs weights"}])
    return list(dict.fromkeys(wanted))


def plans(data: Any, *, wanted: Sequence[str] | None = None, weights_data: Any = None, time_limit_s: Any = None,
          solver: str = "auto") -> dict[str, Any]:
    """``{"plans": [...]}``: one plan per objective, each with its explanation and runner-up."""
    instance = parse(data)
    w = weights(weights_data)
    chosen = objectives(wanted, w is not None)
    found = solve_plans(instance, chosen, weights=w, options=options(time_limit_s, solver))
    return {"plans": [p.to_json() for p in found]}


def what_if(data: Any, *, objective: str, drain: Sequence[str] = (), capacity: Mapping[str, Any] | None = None,
            weights_data: Any = None, time_limit_s: Any = None, solver: str = "auto") -> dict[str, Any]:
    """The ``objective`` plan before and after draining ``drain`` / applying ``capacity``."""
    instance = parse(data)
    w = weights(weights_data)
    objectives([objective], w is not None)
    if capacity is not None and not isinstance(capacity, Mapping):
        raise InstanceError([{"field": "capacity", "message": "must be an object of pool id to amounts"}])
    if isinstance(drain, str) or not isinstance(drain, Sequence):
        raise InstanceError([{"field": "drain", "message": "must be a list of pool ids"}])
    return whatif.what_if(instance, objective, drain=list(drain), capacity=capacity, weights=w,
                          options=options(time_limit_s, solver))
