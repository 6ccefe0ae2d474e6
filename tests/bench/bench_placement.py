"""Placement benchmark: the three plans against a greedy best-fit and against the proven optimum.

    .venv/bin/python -m tests.bench.bench_placement [--sizes 50x20 200x20 1000x50] [--seed 1]
        [--time-limit 5] [--offline-limit 120] [--json FILE]

For each size (requests x pools, ``placement_instances.generate``: GPU models and regions mixed,
a third pinned to a region, some that cannot fit, a greedy trap) it solves the three plans in one
call within ``--time-limit`` seconds (the issue's target: 1,000 x 50 in 5 s in total), then for
each objective:

- the plan's status, proved gap, placed copies and its criterion (cost, performance, highest
  utilisation);
- the greedy best-fit (``placement_greedy``) on the same instance: placed and criterion, and
  whether the plan is at least as good in the rules' order (more placed first, then criterion);
- the proven optimum from a long offline solve of that objective alone (gap 1e-6, up to
  ``--offline-limit`` s): its status, and how far the plan is from it ("vs opt": how much worse,
  relative; 0 is the optimum, negative means the offline solve did not reach the plan's value).

Every line carries the machine's load average (/proc/loadavg) when it was measured: other agents
share these 2 cores, so a wall time is only comparable with the load beside it; the CPU seconds of
the three plans (this process, HiGHS's threads included) hardly depend on the load.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.domains.placement.instance import parse
from engine.domains.placement.solve import Options, solve_plans
from tests.bench.placement_greedy import greedy
from tests.bench.placement_instances import generate

SIZES = ("50x20", "50x50", "200x20", "200x50", "1000x20", "1000x50")
CRITERION = {"cost": ("cost", 1), "performance": ("performance", -1), "balance": ("max_util", 1)}


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def cpu_s() -> float:
    """CPU seconds of this process, HiGHS's threads included: what the solve cost whatever else runs."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _key(placed: int, value: Decimal, sign: int) -> tuple[int, Decimal]:
    return (-placed, sign * value)


def run(requests: int, pools: int, seed: int, time_limit: float, offline_limit: float) -> list[dict[str, Any]]:
    instance = parse(generate(requests, pools, seed))
    load_before = load()
    started, cpu0 = time.perf_counter(), cpu_s()
    plans = solve_plans(instance, options=Options(time_limit_s=time_limit))
    total_s, total_cpu = time.perf_counter() - started, cpu_s() - cpu0
    load_after = load()
    rows = []
    for plan in plans:
        field, sign = CRITERION[plan.objective]
        value = getattr(plan, field)
        g = greedy(instance, plan.objective)
        t0 = time.perf_counter()
        [best] = solve_plans(instance, [plan.objective], options=Options(time_limit_s=offline_limit, gap=1e-6),
                             explained=False)
        offline_s = time.perf_counter() - t0
        best_value = getattr(best, field)
        vs_opt = None
        if best.placed == plan.placed and best_value:
            vs_opt = float(sign * (value - best_value) / abs(best_value))
        rows.append({
            "size": f"{requests}x{pools}", "objective": plan.objective, "total_s": round(total_s, 3),
            "total_cpu_s": round(total_cpu, 3), "shapes": plan.explanation.get("shapes"),
            "load": f"{load_before}->{load_after}", "status": plan.status, "gap": plan.gap,
            "tie_break": plan.stages[2]["status"] if len(plan.stages) > 2 else "-",
            "placed": plan.placed, "requested": plan.requested, "value": str(value),
            "greedy_placed": g["placed"], "greedy_value": str(g[field]),
            "not_worse_than_greedy": _key(plan.placed, value, sign) <= _key(g["placed"], g[field], sign),
            "optimum_status": best.status, "optimum_placed": best.placed, "optimum_value": str(best_value),
            "vs_optimum": vs_opt, "offline_s": round(offline_s, 1), "offline_load": load()})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'size':>8} {'objective':>11} {'3 plans s':>9} {'cpu s':>6} {'load':>11} {'status':>10} {'gap':>8} "
            f"{'tie':>10} {'placed':>11} {'value':>13} {'greedy':>20} {'>=greedy':>8} {'optimum':>22} {'vs opt':>8}")
    lines = [head]
    for r in rows:
        gap = "-" if r["gap"] is None else f"{r['gap']:.3%}"
        vs = "-" if r["vs_optimum"] is None else f"{r['vs_optimum']:+.3%}"
        lines.append(
            f"{r['size']:>8} {r['objective']:>11} {r['total_s']:>9} {r['total_cpu_s']:>6} {r['load']:>11} "
            f"{r['status']:>10} {gap:>8} {r['tie_break']:>10} {r['placed']:>5}/{r['requested']:<5} {r['value']:>13} "
            f"{r['greedy_placed']:>5} {r['greedy_value']:>14} {str(r['not_worse_than_greedy']):>8} "
            f"{r['optimum_placed']:>5} {r['optimum_value']:>10} {r['optimum_status'][:5]:>5} {vs:>8}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), metavar="RxP")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=5.0)
    parser.add_argument("--offline-limit", type=float, default=120.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    for size in args.sizes:
        r, p = (int(x) for x in size.split("x"))
        rows += run(r, p, args.seed, args.time_limit, args.offline_limit)
        print(table(rows[-3:]).split("\n", 1)[-1] if len(rows) > 3 else table(rows), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
