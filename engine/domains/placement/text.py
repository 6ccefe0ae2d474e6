"""Plans as text for a terminal (``aicmp placement solve`` without ``--json``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

MAX_LINES = 20  # assignments and explanations shown per plan; --json has them all


def _pct(share: str) -> str:
    return f"{Decimal(share) * 100:.1f}%"


def _honesty(plan: dict[str, Any]) -> str:
    gap = "" if plan["gap"] is None else f"gap {plan['gap']:.3%}"
    bound = "" if plan["bound"] is None else f"bound {plan['bound']}"
    proof = ", ".join(x for x in (gap, bound) if x)
    status = "optimal" if plan["status"] == "optimal" else "stopped by the time limit"
    return f"{status}" + (f" ({proof})" if proof else "") + f", {plan['solve_s']} s"


def _more(lines: list[str], n: int) -> list[str]:
    return lines if n <= MAX_LINES else [*lines, f"    ... {n - MAX_LINES} more (--json has all)"]


def plan(p: dict[str, Any]) -> str:
    ex = p["explanation"]
    out = [f"{p['objective']}-first plan: placed {p['placed']} of {p['requested']} copies, cost {p['cost']}/h, "
           f"performance {p['performance']}, highest utilisation {_pct(p['max_util'])}; {_honesty(p)}"]
    out.append("  assignments:")
    out += _more([f"    {a['request_id']} -> {a['pool_id']} x{a['copies']}" for a in p["assignments"][:MAX_LINES]],
                 len(p["assignments"]))
    if ex.get("binding"):
        out.append("  binding:")
        out += _more([f"    {b['text']}" for b in ex["binding"][:MAX_LINES]], len(ex["binding"]))
    if ex.get("unplaced"):
        out.append("  not placed:")
        out += _more([f"    {u['request_id']} x{u['copies']}: {u['text']}; would fit with {u['fix']}"
                      for u in ex["unplaced"][:MAX_LINES]], len(ex["unplaced"]))
    runner = ex.get("runner_up")
    if runner:
        out.append(f"  runner-up: the {runner['objective']}-first plan (cost {runner['cost']}/h, performance "
                   f"{runner['performance']}, highest utilisation {_pct(runner['max_util'])}) lost: "
                   f"{runner['lost_because']}")
    return "\n".join(out)


def plans(result: dict[str, Any]) -> str:
    return "\n\n".join(plan(p) for p in result["plans"])


def what_if(result: dict[str, Any]) -> str:
    d = result["delta"]
    changes = result["changes"]
    head = (f"what-if: drain {', '.join(changes['drain']) or 'nothing'}; capacity "
            f"{', '.join(f'{k}={v}' for k, v in changes['capacity'].items()) or 'unchanged'}\n"
            f"  placed {d['placed']:+d}, cost {d['cost']}/h, performance {d['performance']}, highest utilisation "
            f"{d['max_util']}")
    return "\n\n".join([head, "before:\n" + plan(result["before"]), "after:\n" + plan(result["after"])])
