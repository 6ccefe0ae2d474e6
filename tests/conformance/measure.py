"""Per-file conformance report: parse, check and run every executable file of the corpus.

"Executable" is what the baseline TSV says (column ``parse`` is not ``no-exec``): 232 files. For
each, the report says whether its XML parses, whether ``aicmp bpmn check`` accepts it, whether
``aicmp bpmn simulate`` runs it to the end, and, when not, the first reason, grouped into a short
category.

A run first gives nothing (forms submitted with their defaults, services answered ``{}``), as the
baseline ran SpiffWorkflow. A file that stops there for want of data and has an entry in
``inputs.json`` runs again with it: start variables, user-task answers and service results, the
values its own project's tests give (or the model plainly expects), and how long a person takes
over a task where the model's timers depend on it, each with a sentence saying
what they stand for. Both counts are reported; a file that runs only with its inputs says so in
its category. The conformance test writes it as a TSV under its tmp dir (and prints a one-line summary) and
compares each file with the checked-in ``runs.tsv``: a file recorded as running must still run,
a failing one must fail for a named reason (a category, never "other"). Regenerate the list
after a change that makes more files run with::

    .venv/bin/python -m tests.conformance.measure --write-runs
"""

from __future__ import annotations

import collections
import contextlib
import csv
import functools
import json
import re
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.designer import check, simulate_file
from engine.spiff.xmlcheck import XmlRejected, parse_xml
from tests.helpers import CONFORMANCE

BASELINE = CONFORMANCE / "baseline-spiffworkflow-3.2.0.tsv"
RUNS = Path(__file__).with_name("runs.tsv")
INPUTS = Path(__file__).with_name("inputs.json")
MAX_BYTES = 5 * 1024 * 1024
SECONDS = 20  # per simulation
MEASURED: dict[str, FileReport] = {}  # this test session's reports (test_conformance fills it)
REPORT_FILE: Path | None = None  # where the session's per-file TSV was written
COLUMNS = ("file", "baseline", "parse", "check", "run", "empty_run", "category", "reason")
WITH_INPUTS = "runs with the inputs in inputs.json"

# first matching pattern names the category of a failure reason
CATEGORIES: tuple[tuple[str, str], ...] = (
    (r"camunda:inputOutput", "camunda:inputOutput mapping aicmp cannot run (script, map, dotted name)"),
    (r"JUEL outside the supported subset", "JUEL method call (outside the subset)"),
    (r"Time Specification Error", "timer without a time (no timeDuration/timeDate/timeCycle)"),
    (r"timer: syntax error", "timer written as a cron expression (not ISO 8601)"),
    (r"no executable process \(isExecutable", "not executable (isExecutable=\"false\" behind a data store)"),
    (r"dataInputAssociation|dataOutputAssociation|[Dd]ata object could not be set|Missing data",
     "data association to an item that is not there"),
    (r"Non-default exclusive outgoing sequence flow without condition", "gateway flow without a condition"),
    (r"condition: syntax error", "FEEL condition (neither Python nor JUEL)"),
    (r"(FEEL|XPath) outside the supported subset", "FEEL or XPath outside the supported subset"),
    (r"script: syntax error|source must be text|camunda:resource", "script not Python (Groovy, JavaScript, XSLT)"),
    (r"invalid name because it starts with", "script refused by the sandbox"),
    (r"form .* is not in the deployment", "form file missing from the corpus"),
    (r"Service Task must have an operator", "service task without an implementation"),
    (r"calls process|No DMN Diagram|no executable process to start", "called process or decision not in the corpus"),
    (r'No "calledElement" attribute', "call activity that names no process (no calledElement)"),
    (r"Unsupported Catch Event", "boundary event without an event definition (a none boundary event)"),
    (r"compensation handler|compensation event subprocess|compensates '",
     "compensation aicmp does not run (a subprocess compensated by its event subprocess, a boundary event "
     "without its handler)"),
    (r"the id 'Start' is the engine's own name", "an element whose id is 'Start' (SpiffWorkflow's own first task)"),
    (r"start event|No output task", "no start event where one is required (event subprocess, compensation)"),
    (r"[Mm]ultiple outgoing flows", "implicit split (task with several outgoing flows)"),
    (r"multiinstance|[Oo]utput item", "multi-instance without loop data"),
    (r"loopMaximum|loopCondition", "loop without a condition"),
    (r"stuck|kept answering messages", "waits for what the run never gives (a message, a join's other branch)"),
    (r"loop: after|kept visiting", "loops until someone enters other data (needs input data)"),
    (r"Error evaluating|NameError|KeyError|not defined|not iterable|has no attribute",
     "needs input data (or a host function) the empty run has not"),
)


@dataclass
class FileReport:
    file: str
    baseline: str
    parse: bool = False
    check: bool = False
    run: bool = False
    empty_run: bool = False  # ran to the end with no inputs (as the baseline ran SpiffWorkflow)
    reason: str = ""

    @property
    def category(self) -> str:
        if self.run:
            return "runs" if self.empty_run else WITH_INPUTS
        for pattern, name in CATEGORIES:
            if re.search(pattern, self.reason):
                return name
        return "other"

    def row(self) -> dict[str, str]:
        yes = {True: "ok", False: "fail"}
        return {"file": self.file, "baseline": self.baseline, "parse": yes[self.parse],
                "check": yes[self.check] if self.parse else "n/a",
                "run": yes[self.run] if self.check else "n/a",
                "empty_run": yes[self.empty_run] if self.check else "n/a", "category": self.category,
                "reason": " ".join(self.reason.split())[:300]}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def executable_files() -> list[tuple[str, str]]:
    """(source/file, baseline run) for every file the baseline does not mark non-executable."""
    if not BASELINE.exists():
        return []
    return [(f"{r['source']}/{r['file']}", r["run"]) for r in _rows(BASELINE) if r["parse"] != "no-exec"]


class _TooLong(BaseException):  # not caught by "except Exception" on the way up
    pass


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    """A simulation can go round a wait it cannot satisfy (a message whose correlation never
    matches) without its loop detector seeing it: stop it after ``seconds`` (main thread only)."""
    def expire(_signum: int, _frame: object) -> None:
        raise _TooLong

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@functools.cache
def inputs() -> dict[str, dict]:
    """``inputs.json``: per file, the ``data``, ``tasks`` (answers by user-task id), ``stubs``
    (results by operator name), ``messages`` (payloads by message name) and ``late`` (how long a
    user task's person takes, by user-task id) to run it with, and ``why``."""
    return json.loads(INPUTS.read_text()) if INPUTS.exists() else {}


def _simulate(path: Path, given: dict | None) -> tuple[Any, Any]:
    given = given or {}
    return simulate_file(path, max_bytes=MAX_BYTES, data=given.get("data"), task_data=given.get("tasks"),
                         stubs=given.get("stubs"), messages=given.get("messages"), late=given.get("late"))


def measure_file(name: str, baseline: str) -> FileReport:
    report = FileReport(name, baseline)
    path = CONFORMANCE / name
    try:
        parse_xml(name, path.read_bytes(), MAX_BYTES)
    except XmlRejected as exc:
        report.reason = str(exc.finding)
        return report
    report.parse = True
    checked = check(path, max_bytes=MAX_BYTES)
    if not checked.ok:
        report.reason = "; ".join(str(e) for e in checked.errors)
        return report
    report.check = True
    report.run, report.reason = _run(path, None)
    report.empty_run = report.run
    given = inputs().get(name)
    if not report.run and given is not None:
        report.run, reason = _run(path, given)
        report.reason = reason or report.reason
    return report


def _run(path: Path, given: dict | None) -> tuple[bool, str]:
    """Whether ``path`` runs to the end with ``given`` inputs, and why not."""
    try:
        with _time_limit(SECONDS):
            simulated, result = _simulate(path, given)
    except _TooLong:
        return False, f"stuck: no end within {SECONDS} s (the simulation kept answering the same wait)"
    except Exception as exc:  # noqa: BLE001 - a run that raises is a failure with a reason
        return False, f"{type(exc).__name__}: {exc}"
    if result is None:
        return False, "; ".join(str(e) for e in simulated.errors)
    if result.completed:
        return True, ""
    return False, result.problem or "did not finish"


def measure(progress: bool = False) -> list[FileReport]:
    reports = []
    for name, baseline in executable_files():
        if progress:
            print(name, file=sys.stderr, flush=True)
        reports.append(measure_file(name, baseline))
    return reports


def write_tsv(reports: list[FileReport], path: Path) -> None:
    with path.open("w", newline="") as fh:
        out = csv.DictWriter(fh, COLUMNS, delimiter="\t", lineterminator="\n")
        out.writeheader()
        for r in reports:
            out.writerow(r.row())


def summary(reports: list[FileReport]) -> str:
    """One paragraph: how many run to the end (with no inputs, as the baseline's count was taken,
    and with the recorded inputs), failures by category."""
    runs = sum(r.run for r in reports)
    empty = sum(r.empty_run for r in reports)
    base = sum(r.baseline == "completed" for r in reports)
    by = collections.Counter(r.category for r in reports if not r.run)
    reasons = ", ".join(f"{name} {n}" for name, n in by.most_common())
    return (f"conformance: {runs} of {len(reports)} executable files run to the end, {empty} of them with no "
            f"inputs (plain SpiffWorkflow 3.2 with no inputs: {base}); check passes "
            f"{sum(r.check for r in reports)}; the rest: {reasons or 'none'}")


def recorded() -> dict[str, dict[str, str]]:
    """The checked-in outcome per executable file (``run`` ok or fail, and the category of why
    not) as it was when ``runs.tsv`` was last regenerated."""
    if not RUNS.exists():
        return {}
    return {r["file"]: r for r in _rows(RUNS)}


def write_runs(reports: list[FileReport]) -> None:
    with RUNS.open("w", newline="") as fh:
        out = csv.writer(fh, delimiter="\t", lineterminator="\n")
        out.writerow(("file", "run", "category"))
        for r in sorted(reports, key=lambda r: r.file):
            out.writerow((r.file, "ok" if r.run else "fail", r.category))


def main(argv: list[str]) -> int:
    reports = measure(progress="-v" in argv)
    if "--write-runs" in argv:
        write_runs(reports)
    if "--tsv" in argv:
        write_tsv(reports, Path(argv[argv.index("--tsv") + 1]))
    print(summary(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
