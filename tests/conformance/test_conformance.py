"""Conformance: aicmp must check and run every corpus file plain SpiffWorkflow 3.2 runs to the end.

The baseline TSV in the shared corpus (``AICMP_CONFORMANCE_DIR``, else ../shared/conformance
beside the checkout) records what SpiffWorkflow alone did with each file. Every file it ran to
the end must pass ``aicmp bpmn check`` and ``aicmp bpmn simulate`` here, unless
``exemptions.tsv`` beside this test lists it with the rule that refuses it and why.

Beyond the baseline, every executable file of the corpus (232) is parsed, checked and run
(``tests.conformance.measure``): the per-file report lands in the test's tmp dir as
``conformance.tsv``, a one-line summary is printed at the end, and no file that ``runs.tsv``
records as running may stop running.

Without the corpus this whole module is skipped, in one line saying where to put it; with
``AICMP_REQUIRE_CONFORMANCE=1`` (``.ci/run`` sets it) a missing corpus fails instead.
"""

from __future__ import annotations

import collections
import csv
from pathlib import Path

import pytest

from engine.spiff.xmlcheck import (
    called_process_ids,
    element_lines,
    form_references,
    operator_references,
    parse_xml,
    script_sites,
    xsd_findings,
)
from tests.conformance import measure
from tests.helpers import CONFORMANCE, CONFORMANCE_MISSING, CONFORMANCE_REQUIRED

BASELINE = CONFORMANCE / "baseline-spiffworkflow-3.2.0.tsv"
EXEMPTIONS = Path(__file__).with_name("exemptions.tsv")

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


def measured(name: str, baseline: str = "completed") -> measure.FileReport:
    """Parse, check and run ``name`` once per session (both tests below read the same report)."""
    if name not in measure.MEASURED:
        measure.MEASURED[name] = measure.measure_file(name, baseline)
    return measure.MEASURED[name]


@pytest.fixture(scope="module", autouse=True)
def conformance_report(tmp_path_factory: pytest.TempPathFactory):
    """At the end: the per-file TSV under the tmp dir (conftest.py prints the summary line)."""
    yield
    if measure.MEASURED:
        measure.REPORT_FILE = tmp_path_factory.mktemp("conformance") / "conformance.tsv"
        measure.write_tsv(list(measure.MEASURED.values()), measure.REPORT_FILE)


@pytest.mark.parametrize("name", baseline_completed())
def test_baseline_file_checks_and_runs_to_the_end(name: str):
    exempt = exemptions().get(name)
    report = measured(name)
    if exempt is not None:
        assert not report.run, f"{name} passes now: remove it from exemptions.tsv"
        return
    assert report.check, "check failed: " + report.reason
    assert report.run, f"did not finish: {report.reason}"


def _executable() -> list[tuple[str, str]]:
    return measure.executable_files()


def test_every_executable_file_is_recorded():
    files = {name for name, _ in _executable()}
    assert len(files) == 232
    assert set(measure.recorded()) == files, "regenerate tests/conformance/runs.tsv (see tests/conformance/measure.py)"


@pytest.mark.parametrize(("name", "baseline"), _executable())
def test_executable_file_runs_as_recorded_or_better(name: str, baseline: str):
    """A file ``runs.tsv`` records as running still runs to the end (with no inputs, if it ran so);
    one that fails fails for a named reason; one that now runs where it did not asks for the list
    to be regenerated."""
    report = measured(name, baseline)
    recorded = measure.recorded().get(name, {})
    was = recorded.get("run")
    if was == "ok":
        assert report.run, f"{name} ran to the end before and no longer does: {report.reason}"
        if recorded.get("category") == "runs":
            assert report.empty_run, f"{name} ran to the end with no inputs before and now needs inputs.json"
    elif report.run:
        pytest.fail(f"{name} runs to the end now: regenerate tests/conformance/runs.tsv "
                    "(.venv/bin/python -m tests.conformance.measure --write-runs)")
    else:
        assert report.category != "other", f"{name} fails for a reason no category names: {report.reason}"


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


def test_recorded_inputs_name_executable_files_and_say_what_they_stand_for():
    files = {name for name, _ in _executable()}
    for name, given in measure.inputs().items():
        assert name in files, f"inputs.json names {name}, which is not an executable corpus file"
        assert set(given) <= {"data", "tasks", "stubs", "messages", "late", "why"}, name
        assert given.get("why", "").strip(), f"inputs.json: {name} does not say what its inputs stand for"
        assert all(isinstance(given.get(k, {}), dict) for k in ("data", "tasks", "stubs", "messages", "late")), name


@pytest.mark.parametrize("name", sorted(measure.inputs()))
def test_recorded_inputs_are_needed(name: str):
    """A file that runs to the end with no inputs needs no entry in inputs.json."""
    report = measured(name, dict(_executable()).get(name, "n/a"))
    assert not report.empty_run, f"{name} runs with no inputs: remove it from inputs.json"
