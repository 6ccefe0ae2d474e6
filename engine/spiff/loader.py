"""Turn a set of parsed BPMN/DMN trees into process specs, one per executable process.

Each BPMN file is parsed with the spiff parser (all DMN of the set attached) and, if that
fails, with the Camunda parser. Every parser error is reported with file, line and element id:
SpiffWorkflow loses line numbers, so the element id is mapped back to its source line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask

from engine.spiff import camunda
from engine.spiff.feel import with_compiled_conditions
from engine.spiff.implicit import with_implicit_starts
from engine.spiff.loop_collections import with_standard_loops
from engine.spiff.parsers import PARSERS
from engine.spiff.xmlcheck import Finding, StartDeclaration, element_lines, start_declarations


@dataclass
class ParsedProcess:
    """One executable process: its spec, its embedded subprocesses and the keys it calls."""

    key: str
    name: str | None
    file: str
    parser: str
    spec: BpmnProcessSpec
    inner_specs: dict[str, BpmnProcessSpec] = field(default_factory=dict)
    called_keys: list[str] = field(default_factory=list)
    start: StartDeclaration = field(default_factory=StartDeclaration)


@dataclass
class LoadResult:
    processes: list[ParsedProcess] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)


def _finding(file: str, tree: Any, exc: Exception) -> Finding:
    element_id = getattr(exc, "id", "") or None
    line = getattr(exc, "line_number", "") or None
    if line is None and element_id:
        line = element_lines(tree).get(element_id)
    message = str(exc).split(". Error evaluating", 1)[0]
    return Finding(file, line if isinstance(line, int) else None, element_id, message)


def _split_subprocesses(parser: Any, spec: BpmnProcessSpec) -> tuple[dict[str, BpmnProcessSpec], list[str]]:
    """Embedded subprocesses belong to the process; call activities name other keys."""
    inner: dict[str, BpmnProcessSpec] = {}
    called: list[str] = []
    stack = [spec]
    while stack:
        current = stack.pop()
        for task_spec in current.task_specs.values():
            if not isinstance(task_spec, SubWorkflowTask):
                continue
            name = task_spec.spec
            sub_parser = parser.get_process_parser(name)
            if sub_parser is not None and sub_parser.parent is not None:
                if name not in inner:
                    inner[name] = sub_parser.get_spec()
                    stack.append(inner[name])
            elif name not in called:
                called.append(name)
    return inner, called


def _parse_with(kind: str, file: str, tree: Any, dmn: dict[str, Any]) -> list[ParsedProcess]:
    parser = PARSERS[kind]()
    for dmn_file, dmn_tree in dmn.items():
        parser.add_dmn_xml(dmn_tree.getroot() if hasattr(dmn_tree, "getroot") else dmn_tree,
                           filename=dmn_file)
    parser.add_bpmn_xml(with_standard_loops(with_compiled_conditions(with_implicit_starts(tree))), filename=file)
    processes = []
    declared = start_declarations(tree)
    for key, process_parser in list(parser.process_parsers.items()):  # parsing adds subprocesses
        if process_parser.parent is not None or not process_parser.process_executable:
            continue
        spec = parser.get_spec(key)
        inner, called = _split_subprocesses(parser, spec)
        processes.append(ParsedProcess(key, process_parser.get_name(), file, kind, spec, inner, called,
                                       declared.get(key, StartDeclaration())))
    # camunda:formField -> JSON Schema, camunda:assignee/candidate* -> inbox candidates
    specs = [s for p in processes for s in (p.spec, *p.inner_specs.values())]
    camunda.attach(specs, tree)
    for element_id, problem in camunda.attach_mappings(specs, tree):  # inputOutput -> pre/post scripts
        raise ValidationException(problem, file_name=file, id=element_id)
    return processes


def load_processes(bpmn: dict[str, Any], dmn: dict[str, Any]) -> LoadResult:
    """Parse each BPMN tree (spiff parser first, Camunda as fallback)."""
    result = LoadResult()
    for file, tree in bpmn.items():
        try:
            processes = _parse_with("spiff", file, tree, dmn)
        except (ValidationException, etree.LxmlError, KeyError, AttributeError, TypeError) as spiff_exc:
            try:
                processes = _parse_with("camunda", file, tree, dmn)
            except Exception:  # noqa: BLE001 - the spiff parser's error is the one to show
                result.errors.append(_finding(file, tree, spiff_exc))
                continue
        if not processes:
            result.errors.append(Finding(file, None, None, 'no executable process (isExecutable="false")'))
        for process in processes:
            problem = _unrunnable(process)
            if problem is not None:
                result.errors.append(Finding(file, None, process.key, problem))
        result.processes.extend(processes)
    return result


def _unrunnable(process: ParsedProcess) -> str | None:
    """Why SpiffWorkflow cannot even create an instance of ``process``, if it cannot: a flow that
    loops back to a task without a gateway sends its task-tree prediction into unbounded recursion,
    and anything else SpiffWorkflow raises here would fail every start the same way."""
    try:
        BpmnWorkflow(process.spec, process.inner_specs)
    except RecursionError:
        return (f"process {process.key!r} cannot be started: a sequence flow loops back to an earlier "
                "task without a gateway; join the loop with an exclusive gateway")
    except Exception as exc:  # noqa: BLE001 - whatever stops the first instance stops every start
        return f"process {process.key!r} cannot be started: {type(exc).__name__}: {exc}"
    return None
