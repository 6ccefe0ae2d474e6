"""Conformance: aicmp must check and run every corpus file plain SpiffWorkflow 3.2 runs to the end.

The baseline TSV (../shared/conformance) records what SpiffWorkflow alone did with each file.
Every file it ran to the end must pass ``aicmp bpmn check`` and ``aicmp bpmn simulate`` here,
unless ``exemptions.tsv`` beside this test lists it with the rule that refuses it and why.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from engine.designer import check, simulate_file
from tests.helpers import CONFORMANCE

BASELINE = CONFORMANCE / "baseline-spiffworkflow-3.2.0.tsv"
EXEMPTIONS = Path(__file__).with_name("exemptions.tsv")
MAX_BYTES = 5 * 1024 * 1024

pytestmark = [
    pytest.mark.conformance,
    # CI always has ../shared beside the checkout: there a missing corpus is a failure, not a skip
    pytest.mark.skipif(not BASELINE.exists() and not os.environ.get("CI"),
                       reason=f"conformance corpus not found at {CONFORMANCE}"),
]


def test_the_corpus_is_there():
    assert BASELINE.exists(), f"conformance corpus not found at {CONFORMANCE}"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def baseline_completed() -> list[str]:
    if not BASELINE.exists():
        return []
    return [f"{r['source']}/{r['file']}" for r in _rows(BASELINE) if r["run"] == "completed"]


def exemptions() -> dict[str, dict[str, str]]:
    return {r["file"]: r for r in _rows(EXEMPTIONS)}


def test_exemptions_name_real_baseline_files_with_a_rule_and_reason():
    completed = set(baseline_completed())
    for name, row in exemptions().items():
        assert name in completed, f"{name} is exempted but the baseline does not run it"
        assert row["rule"].strip() and row["reason"].strip(), name


@pytest.mark.parametrize("name", baseline_completed())
def test_baseline_file_checks_and_runs_to_the_end(name: str):
    exempt = exemptions().get(name)
    path = CONFORMANCE / name
    report = check(path, max_bytes=MAX_BYTES)
    ran = None
    if report.ok:
        _report, result = simulate_file(path, max_bytes=MAX_BYTES)
        ran = result
    passed = report.ok and ran is not None and ran.completed
    if exempt is not None:
        assert not passed, f"{name} passes now: remove it from exemptions.tsv"
        return
    assert report.ok, "check failed: " + "; ".join(str(e) for e in report.errors)
    assert ran is not None and ran.completed, f"did not finish: {ran.problem}; path {ran.path}"
