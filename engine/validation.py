"""Deploy-time validation of a file set: the single check that deploy and ``aicmp bpmn check`` share.

Errors (nothing is stored): XML that is unsafe or not well-formed, oversize files, parser
errors, scripts the sandbox policy refuses, JUEL expressions (``${...}``) outside the subset
``engine.spiff.juel`` compiles, FEEL or XPath conditions outside the subset ``engine.spiff.feel``
compiles (or, for either, whose compiled Python the sandbox refuses), timers whose value
is a literal (quoted, or plain ISO 8601 as Camunda writes it) the bounded timer reader refuses,
forms that are referenced but missing or invalid.
Warnings (returned with the deployment): XSD violations, operators nobody registered (spiff
``serviceTaskOperator`` ids, and the topic, delegate expression, class or expression of a service
task drawn for Camunda).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree

from engine import clock
from engine.sandbox import check_source
from engine.spiff import camunda, durations, feel, juel
from engine.spiff.loader import ParsedProcess, load_processes
from engine.spiff.xmlcheck import (
    BPMN_NS,
    Finding,
    XmlRejected,
    form_references,
    operator_references,
    parse_xml,
    script_sites,
    xsd_findings,
)

KINDS = {".bpmn": "bpmn", ".xml": "bpmn", ".dmn": "dmn", ".json": "form"}
UNNAMED_OPERATOR = ("service task names no operator: an instance that reaches it stops with an incident "
                    "(name one: spiffworkflow:serviceTaskOperator, a Camunda or Flowable topic, class, "
                    "delegate expression or expression, a zeebe:taskDefinition type or an operationRef)")
_DMN_INPUT = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")


@dataclass
class Validation:
    files: dict[str, bytes]
    kinds: dict[str, str] = field(default_factory=dict)
    processes: list[ParsedProcess] = field(default_factory=list)
    form_refs: dict[str, list[str]] = field(default_factory=dict)  # bpmn file -> form files it uses
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def file_kind(name: str) -> str | None:
    return KINDS.get(PurePath(name).suffix.lower())


def _dmn_cell_source(text: str) -> str:
    """Rewrite a DMN input cell the way SpiffWorkflow's DMN engine does before evaluating it."""
    text = _DMN_INPUT.sub("dmninputexpr", text)
    try:
        ast.parse(text, mode="eval")
        return text
    except SyntaxError:
        return f"dmninputexpr {text}"


def _check_scripts(file: str, tree: Any) -> list[Finding]:
    findings = []
    for site in script_sites(tree):
        source = site.source
        if site.kind == "timer" and durations.literal(source) is not None:
            continue  # an ISO 8601 literal, never evaluated: _check_timer_literals reads it
        if site.element is not None and site.element.tag in feel.TAGS:
            try:
                compiled = feel.compile_element(site.element)
            except feel.FeelUnsupported as exc:
                findings.append(Finding(file, site.line, site.element_id,
                                        f"{site.kind}: {exc.language} outside the supported subset: {exc}"))
                continue
            source = compiled if compiled is not None else source
        if site.mode == "eval" and juel.is_juel(source):
            try:
                source = juel.to_python(source)
            except juel.JuelUnsupported as exc:
                findings.append(Finding(file, site.line, site.element_id,
                                        f"{site.kind}: JUEL outside the supported subset: {exc}"))
                continue
        if site.kind == "dmnInputEntry":
            if source.strip() in ("", "-"):
                continue
            source = _dmn_cell_source(source)
        for problem in check_source(source, site.mode):
            line = site.line + max(problem.line - 1, 0) if problem.line else site.line
            findings.append(Finding(file, line, site.element_id, f"{site.kind}: {problem.message}"))
    return findings


def _check_external_scripts(file: str, tree: Any) -> list[Finding]:
    """A script task whose script is a file beside the model (``camunda:resource``, Camunda's XSLT
    and Groovy examples) has nothing aicmp could run or check: refused, naming the file."""
    findings = []
    for el in tree.getroot().iter(f"{{{BPMN_NS}}}scriptTask"):
        resource = el.get(f"{{{camunda.CAMUNDA_NS}}}resource")
        if resource and not (el.findtext(f"{{{BPMN_NS}}}script") or "").strip():
            findings.append(Finding(file, el.sourceline, el.get("id"),
                                    f"script: loaded from camunda:resource {resource!r}, a file outside the "
                                    "model; write the script (Python) into the task"))
    return findings


def _check_reserved_ids(file: str, tree: Any) -> list[Finding]:
    """``Start`` is the name SpiffWorkflow gives its own first task in every process: an element
    with that id is taken for it and never parsed (a start event ``Start`` leaves the process
    unable to start, with "No output task connected"). Refused, naming the element."""
    return [Finding(file, el.sourceline, "Start",
                    "the id 'Start' is the engine's own name for the first task of every process: rename the "
                    "element (its name, shown to people, can stay)")
            for el in tree.getroot().iter(f"{{{BPMN_NS}}}*") if el.get("id") == "Start"]


def _check_camunda_mappings(file: str, tree: Any) -> list[Finding]:
    """``camunda:inputOutput`` parameters run as pre/post scripts (``engine.spiff.camunda``):
    refused here when a value is not supported or the sandbox policy refuses the compiled script."""
    findings = []
    for element_id, element in camunda.mappings_in(tree).items():
        io = element.find(f"./{{*}}extensionElements/{{{camunda.CAMUNDA_NS}}}inputOutput")
        line = io.sourceline if io is not None else element.sourceline
        try:
            scripts = camunda.mapping_scripts(element)
        except camunda.MappingUnsupported as exc:
            findings.append(Finding(file, line, element_id, f"camunda:inputOutput: {exc}"))
            continue
        for script in scripts:
            for problem in check_source(script, "exec") if script else []:
                findings.append(Finding(file, line, element_id, f"camunda:inputOutput: {problem.message}"))
    return findings


def _check_timer_literals(file: str, tree: Any) -> list[Finding]:
    """Timers whose expression is a plain literal (``"PT24H"``): every instance would get that
    value, so it is read now, with the bounds a running timer has (``engine.spiff.durations``)."""
    findings = []
    now = clock.now()
    for el in tree.getroot().iter(*(f"{{{BPMN_NS}}}{kind}" for kind in durations.KINDS)):
        value = durations.literal(el.text)  # unquoted, as Camunda models write it
        if value is None:
            try:
                value = ast.literal_eval((el.text or "").strip())
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue  # an expression (a variable...): read when the timer starts
        kind = etree.QName(el).localname
        try:
            durations.check(kind, value, now)
        except durations.InvalidTimer as exc:
            definition = el.getparent()
            event = definition.getparent() if definition is not None else None
            element_id = (event.get("id") if event is not None else None) or (
                definition.get("id") if definition is not None else None)
            findings.append(Finding(file, el.sourceline, element_id, f"{kind}: {exc.problem}"))
    return findings


def _check_form(file: str, data: bytes, is_schema: bool) -> list[Finding]:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [Finding(file, getattr(exc, "lineno", None), None, f"not valid JSON: {exc}")]
    if not isinstance(doc, dict):
        return [Finding(file, 1, None, "a form file must hold a JSON object")]
    if is_schema:
        try:
            Draft202012Validator.check_schema(doc)
        except SchemaError as exc:
            path = "/".join(str(p) for p in exc.path) or "(root)"
            return [Finding(file, None, None, f"not a valid JSON Schema at {path}: {exc.message}")]
    return []


def validate_files(
    files: dict[str, bytes],
    *,
    max_bytes: int,
    known_operators: Iterable[str] | None = None,
    find_extra: Callable[[str], bytes | None] | None = None,
) -> Validation:
    """Validate a deployment. ``find_extra`` supplies referenced files not in the set (CLI: files
    next to the BPMN); whatever it returns joins the set."""
    v = Validation(dict(files))
    bpmn: dict[str, Any] = {}
    dmn: dict[str, Any] = {}
    for name, data in files.items():
        kind = file_kind(name)
        if kind is None:
            v.errors.append(Finding(name, None, None, "unsupported file type (use .bpmn, .dmn or .json)"))
            continue
        v.kinds[name] = kind
        if len(data) > max_bytes:
            v.errors.append(Finding(name, None, None, f"file is {len(data)} bytes; the limit is {max_bytes}"))
            continue
        if kind == "form":
            continue
        try:
            tree = parse_xml(name, data, max_bytes)
        except XmlRejected as exc:
            v.errors.append(exc.finding)
            continue
        (bpmn if kind == "bpmn" else dmn)[name] = tree
        v.errors.extend(_check_scripts(name, tree))
        v.errors.extend(_check_timer_literals(name, tree))
        v.errors.extend(_check_camunda_mappings(name, tree))
        v.errors.extend(_check_external_scripts(name, tree))
        if kind == "bpmn":
            v.errors.extend(_check_reserved_ids(name, tree))
        v.warnings.extend(xsd_findings(name, tree))

    schemas: set[str] = set()
    for name, tree in bpmn.items():
        used = []
        for ref in form_references(tree):
            used.append(ref.value)
            if ref.value not in v.files:
                extra = find_extra(ref.value) if find_extra else None
                if extra is None:
                    message = f"form {ref.value!r} is not in the deployment"
                    v.errors.append(Finding(name, ref.line, ref.element_id, message))
                    continue
                v.files[ref.value] = extra
                v.kinds[ref.value] = "form"
            if "uischema" not in ref.value.lower():
                schemas.add(ref.value)
        v.form_refs[name] = sorted(set(used))
        refs = [(r.element_id, r.line, r.value) for r in operator_references(tree)] + camunda.operator_references(tree)
        if known_operators is not None:
            known = set(known_operators)
            for element_id, line, operator in refs:
                if operator not in known:
                    v.warnings.append(Finding(name, line, element_id, f"operator {operator!r} is not registered"))
        named = {element_id for element_id, _line, _operator in refs}
        for task in tree.getroot().iter(f"{{{BPMN_NS}}}serviceTask"):
            if task.get("id") not in named:
                v.warnings.append(Finding(name, task.sourceline, task.get("id"), UNNAMED_OPERATOR))
    for name, kind in v.kinds.items():
        if kind == "form":
            v.errors.extend(_check_form(name, v.files[name], name in schemas))

    if not v.errors:
        loaded = load_processes(bpmn, dmn)
        v.errors.extend(loaded.errors)
        v.processes = loaded.processes
    return v
