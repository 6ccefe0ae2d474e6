"""Conformance: aicmp must check and run every corpus file plain SpiffWorkflow 3.2 runs to the end.

The baseline TSV in the shared corpus (``AICMP_CONFORMANCE_DIR``, else ../shared/conformance
beside the checkout) records what SpiffWorkflow alone did with each file. Every file it ran to
the end must pass ``aicmp bpmn check`` and ``aicmp bpmn simulate`` here, unless
``exemptions.tsv`` beside this test lists it with the rule that refuses it and why.

Without the corpus this whole module is skipped, in one line saying where to put it; with
``AICMP_REQUIRE_CONFORMANCE=1`` (``.ci/run`` sets it) a missing corpus fails instead.
"""

from __future__ import annotations

import collections
import csv
from pathlib import Path

import pytest

from engine.designer import check, simulate_file
from engine.spiff.xmlcheck import (
    called_process_ids,
    element_lines,
    form_references,
    operator_references,
    parse_xml,
    script_sites,
    xsd_findings,
)
from tests.helpers import CONFORMANCE, CONFORMANCE_MISSING, CONFORMANCE_REQUIRED

BASELINE = CONFORMANCE / "baseline-spiffworkflow-3.2.0.tsv"
EXEMPTIONS = Path(__file__).with_name("exemptions.tsv")
MAX_BYTES = 5 * 1024 * 1024

pytestmark = pytest.mark.conformance

if not BASELINE.exists() and not CONFORMANCE_REQUIRED:
    pytest.skip(CONFORMANCE_MISSING, allow_module_level=True)


def test_the_corpus_is_there():
    assert BASELINE.exists(), f"{CONFORMANCE_MISSING} (AICMP_REQUIRE_CONFORMANCE=1: required)"


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


def corpus_files() -> list[Path]:
    if not CONFORMANCE.is_dir():
        return []
    return sorted(
        p
        for p in CONFORMANCE.rglob("*")
        if p.is_file() and (p.suffix in (".bpmn", ".dmn") or p.name.endswith(".bpmn20.xml"))
    )


def test_every_corpus_file_can_be_inspected():
    """engine.spiff.xmlcheck over every BPMN/DMN file of the corpus: safe parsing, element lines,
    script sites, references and XSD findings all hold together."""
    files = corpus_files()
    assert len(files) > 250
    kinds: collections.Counter[str] = collections.Counter()
    for path in files:
        name = str(path.relative_to(CONFORMANCE))
        tree = parse_xml(name, path.read_bytes(), 10_000_000)  # the corpus has no DTDs
        lines = element_lines(tree)
        for site in script_sites(tree):
            kinds[site.kind] += 1
            assert site.source.strip() and site.mode in ("exec", "eval")
            assert site.element_id is None or site.element_id in lines
        for ref in form_references(tree) + operator_references(tree) + called_process_ids(tree):
            assert ref.value and ref.line > 0
        for finding in xsd_findings(name, tree):
            assert finding.file == name and finding.message
    assert kinds["script"] > 0 and kinds["condition"] > 0 and kinds["dmnInputEntry"] > 0
