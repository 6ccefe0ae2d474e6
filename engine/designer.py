"""What a process designer runs on files before deploying: check and simulate.

``check`` validates a file exactly as deploy would, looking up the forms and DMN it needs next
to it; ``simulate_file`` runs it in memory, also finding called processes in sibling files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.simulate import MAX_STEPS, SimulationResult, simulate
from engine.spiff.xmlcheck import BPMN_NS, DMN_NAMESPACES, SPIFF_NS, Finding, XmlRejected, parse_xml
from engine.validation import Validation, validate_files

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


@dataclass
class FileCheck:
    path: Path
    validation: Validation
    errors: list[Finding] = field(default_factory=list)
    unknown_process: bool = False  # simulate: the process id asked for is in none of the files

    @property
    def ok(self) -> bool:
        return not self.errors


def _decision_refs(tree: Any) -> set[str]:
    root = tree.getroot()
    refs = {(el.text or "").strip() for el in root.iter(f"{{{SPIFF_NS}}}calledDecisionId")}
    refs |= {el.get(f"{{{CAMUNDA_NS}}}decisionRef") for el in root.iter(f"{{{BPMN_NS}}}businessRuleTask")}
    return {r for r in refs if r}


def _decisions_in(path: Path, max_bytes: int) -> set[str]:
    try:
        tree = parse_xml(path.name, path.read_bytes(), max_bytes)
    except (OSError, XmlRejected):
        return set()
    return {el.get("id") for ns in DMN_NAMESPACES for el in tree.getroot().iter(f"{{{ns}}}decision")}


def _processes_in(path: Path, max_bytes: int) -> set[str]:
    try:
        tree = parse_xml(path.name, path.read_bytes(), max_bytes)
    except (OSError, XmlRejected):
        return set()
    return {el.get("id") for el in tree.getroot().iter(f"{{{BPMN_NS}}}process")}


def file_set(path: Path, max_bytes: int, *, with_called: bool = False) -> dict[str, bytes]:
    """``path`` plus the DMN files next to it that hold decisions it calls (and, for simulate,
    the sibling BPMN files that hold processes it calls, transitively)."""
    files = {path.name: path.read_bytes()}
    try:
        tree = parse_xml(path.name, files[path.name], max_bytes)
    except XmlRejected:
        return files
    wanted = _decision_refs(tree)
    if wanted:
        for dmn in sorted([*path.parent.glob("*.dmn"), *path.parent.glob("*/*.dmn")]):
            if wanted & _decisions_in(dmn, max_bytes) and dmn.name not in files:
                files[dmn.name] = dmn.read_bytes()
    if with_called:
        _add_called(path, tree, files, max_bytes)
    return files


def _add_called(path: Path, tree: Any, files: dict[str, bytes], max_bytes: int) -> None:
    def called(t: Any) -> set[str]:
        return {el.get("calledElement") for el in t.getroot().iter(f"{{{BPMN_NS}}}callActivity")} - {None}

    siblings = {p: None for p in sorted(path.parent.glob("*.bpmn")) if p != path}
    index: dict[str, Path] = {}
    for sibling in siblings:
        for pid in _processes_in(sibling, max_bytes):
            index.setdefault(pid, sibling)
    pending = called(tree)
    seen: set[str] = set()
    while pending:
        key = pending.pop()
        if key in seen or key not in index:
            continue
        seen.add(key)
        source = index[key]
        if source.name not in files:
            files[source.name] = source.read_bytes()
            try:
                pending |= called(parse_xml(source.name, files[source.name], max_bytes))
            except XmlRejected:
                continue


def _find_next_to(path: Path):
    """Referenced files are looked up next to the model, then in a sibling ``forms/`` folder
    (this repository's own layout: ``bpmn/`` beside ``forms/``)."""
    folders = (path.parent, path.parent.parent / "forms")

    def find(name: str) -> bytes | None:
        if Path(name).name != name:  # a bare file name only: never a path out of these folders
            return None
        for folder in folders:
            candidate = folder / name
            if candidate.is_file():
                return candidate.read_bytes()
        return None

    return find


def check(path: Path, *, max_bytes: int, known_operators: Any = None) -> FileCheck:
    files = file_set(path, max_bytes)
    validation = validate_files(files, max_bytes=max_bytes, known_operators=known_operators,
                                find_extra=_find_next_to(path))
    return FileCheck(path, validation, list(validation.errors))


def simulate_file(path: Path, *, max_bytes: int, process_id: str | None = None,
                  data: dict[str, Any] | None = None, task_data: dict[str, dict] | None = None,
                  stubs: dict[str, Any] | None = None,
                  max_steps: int = MAX_STEPS) -> tuple[FileCheck, SimulationResult | None]:
    files = file_set(path, max_bytes, with_called=True)
    validation = validate_files(files, max_bytes=max_bytes, find_extra=_find_next_to(path))
    report = FileCheck(path, validation, list(validation.errors))
    if not report.ok:
        return report, None
    by_key = {p.key: p for p in validation.processes}
    own = [p for p in validation.processes if p.file == path.name]
    if process_id is not None:
        chosen = by_key.get(process_id)
        if chosen is None:
            known = ", ".join(sorted(by_key)) or "none"
            report.errors.append(Finding(path.name, None, None,
                                         f"no executable process {process_id!r} (there are: {known})"))
            report.unknown_process = True
            return report, None
    else:
        called = {k for p in own for k in p.called_keys}
        entry = [p for p in own if p.key not in called]
        if not entry:
            report.errors.append(Finding(path.name, None, None, "no executable process to start"))
            return report, None
        chosen = entry[0]
    return report, simulate(chosen, by_key, files=validation.files, data=data, task_data=task_data, stubs=stubs,
                            max_steps=max_steps)


__all__ = ["FileCheck", "check", "file_set", "simulate_file"]
