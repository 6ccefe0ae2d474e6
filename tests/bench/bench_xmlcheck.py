"""Model inspection benchmark: what deploy and ``aicmp bpmn check`` spend reading a model's XML.

    .venv/bin/python -m tests.bench.bench_xmlcheck [--runs 50]

For each model in bpmn/: the mean time to parse it safely (``parse_xml``) and find its element
lines, script sites, form and operator references and called processes (was a test asserting
"under 5 ms per 13 kB model", which a loaded machine could fail; now a figure to watch).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from engine.spiff.xmlcheck import (
    called_process_ids,
    element_lines,
    form_references,
    operator_references,
    parse_xml,
    script_sites,
)

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 10_000_000


def inspect(name: str, data: bytes) -> None:
    tree = parse_xml(name, data, LIMIT)
    element_lines(tree)
    script_sites(tree)
    form_references(tree)
    operator_references(tree)
    called_process_ids(tree)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args(argv)
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        data = path.read_bytes()
        inspect(path.name, data)  # warm up
        started = time.perf_counter()
        for _ in range(args.runs):
            inspect(path.name, data)
        per_run = (time.perf_counter() - started) / args.runs
        print(f"{path.name:<24} {len(data) / 1024:6.1f} kB  {per_run * 1000:6.2f} ms per inspection")


if __name__ == "__main__":
    main()
