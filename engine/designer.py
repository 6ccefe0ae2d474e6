"""What a process designer runs on files before deploying: check and simulate.

``check`` validates a file exactly as deploy would, looking up the forms and DMN it needs next
to it; ``simulate_file`` runs it in memory, also finding called processes in sibling files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.models import BpmnFile, DeploymentFile, ProcessDefinition
from engine.registry import resolve
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


def check_upload(registry: Any, files: dict[str, bytes]) -> Validation:
    """What deploying ``files`` through ``registry`` (an ``engine.registry.Registry``) would find,
    storing nothing: its validation, with deploy's own refusal of a set without an executable
    process as one more error."""
    validation = registry.validate(files)
    if validation.ok and not validation.processes:
        where = ", ".join(sorted(files))
        validation.errors.append(Finding(where, None, None, "the deployment holds no executable process"))
    return validation


def simulate_file(path: Path, *, max_bytes: int, process_id: str | None = None,
                  data: dict[str, Any] | None = None, task_data: dict[str, dict] | None = None,
                  stubs: dict[str, Any] | None = None, messages: dict[str, Any] | None = None,
                  late: dict[str, str] | None = None,
                  max_steps: int = MAX_STEPS) -> tuple[FileCheck, SimulationResult | None]:
    files = file_set(path, max_bytes, with_called=True)
    validation = validate_files(files, max_bytes=max_bytes, find_extra=_find_next_to(path))
    report = FileCheck(path, validation, list(validation.errors))
    if not report.ok:
        return report, None
    problems, result = simulate_validated(validation, path.name, process_id=process_id, data=data,
                                          task_data=task_data, stubs=stubs, messages=messages, late=late,
                                          max_steps=max_steps)
    if result is None:
        report.errors.extend(problems)
        report.unknown_process = process_id is not None
    return report, result


def simulate_validated(validation: Validation, filename: str | None, *, process_id: str | None = None,
                       data: dict[str, Any] | None = None, task_data: dict[str, dict] | None = None,
                       stubs: dict[str, Any] | None = None, messages: dict[str, Any] | None = None,
                       late: dict[str, str] | None = None,
                       max_steps: int = MAX_STEPS) -> tuple[list[Finding], SimulationResult | None]:
    """Simulate a file set that validated without errors: ``process_id``, or else the first process
    of ``filename`` (any file when None) that no process of that file calls. Returns the reasons it
    could not start (no such process) or the simulation's result."""
    by_key = {p.key: p for p in validation.processes}
    own = [p for p in validation.processes if filename is None or p.file == filename]
    where = filename or ", ".join(sorted(validation.files))
    if process_id is not None:
        chosen = by_key.get(process_id)
        if chosen is None:
            known = ", ".join(sorted(by_key)) or "none"
            return [Finding(where, None, None, f"no executable process {process_id!r} (there are: {known})")], None
    else:
        called = {k for p in own for k in p.called_keys}
        entry = [p for p in own if p.key not in called]
        if not entry:
            return [Finding(where, None, None, "no executable process to start")], None
        chosen = entry[0]
    return [], simulate(chosen, by_key, files=validation.files, data=data, task_data=task_data, stubs=stubs,
                        messages=messages, late=late, max_steps=max_steps)


def deployed_files(session: Session, definition: ProcessDefinition) -> dict[str, bytes]:
    """The files of ``definition``'s deployment, plus (transitively) those of the deployments that
    hold the processes it calls, as a new instance in ``definition``'s tenant would resolve them."""
    files: dict[str, bytes] = {}
    done: set[int] = set()
    pending = [definition]
    while pending:
        row = pending.pop()
        if row.deployment_id in done:
            continue
        done.add(row.deployment_id)
        for name, content in session.execute(
                select(DeploymentFile.filename, BpmnFile.content)
                .join(BpmnFile, BpmnFile.sha256 == DeploymentFile.sha256)
                .where(DeploymentFile.deployment_id == row.deployment_id)):
            files.setdefault(name, content)
        for key in row.called_keys or []:
            try:
                pending.append(resolve(session, key, definition.tenant_id))
            except NotFound:
                continue  # the simulation reports the call it cannot follow
    return files

__all__ = ["FileCheck", "check", "check_upload", "deployed_files", "file_set", "simulate_file", "simulate_validated"]
