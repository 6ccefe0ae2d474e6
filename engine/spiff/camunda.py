"""Camunda 7 task metadata: forms (``camunda:formField``) as JSON Schema, assignments
(``camunda:assignee``, ``candidateUsers``, ``candidateGroups``) for the inbox, operator names.

Models drawn in Camunda Modeler describe a task's form inline; aicmp's forms are JSON Schema
(``engine.forms``). Each form field becomes a property: its type (string, long, boolean, date,
enum with its values), label as title, ``defaultValue`` as default and the ``required``
constraint as required. The loader attaches the schema to the user task's spec
(``extensions["camundaForm"]``, which the spiff serializer keeps); the Camunda parser's own
``UserTask.form`` is read the same way. The inbox keeps it on the task's row, serves it as the
task's form and checks answers against it (``engine.inbox``).

A Camunda form submits every field: an untouched one keeps its default, or is null (a check box:
false). ``submitted`` gives that value set, so a condition such as ``${approved}`` sees what it
would see in Camunda when nobody filled the form in.

``camunda:inputOutput`` mappings become the task's pre- and post-scripts: each parameter's value
(JUEL through ``engine.spiff.juel``, plain text as a string) is set before the task runs (input)
or after it (output), in the sandbox like any script; a script, list or map value is refused at
deploy.

``camunda:asyncBefore`` on a service task sends its operator down the async path (a job), as
Camunda commits before such a task and runs it from its job executor.

An assignment becomes the task's inbox candidates (``engine.inbox.rows``): the assignee (a name,
or ``${variable}`` read through the JUEL subset) and candidate users as users, candidate groups as
role codes of the instance's tenant.

A service task drawn for Camunda names its implementation in an attribute (``camunda:topic`` of
an external task, ``delegateExpression``, ``class`` or ``expression``): that name is the operator
aicmp calls (``operator_name``); one nobody registered is a warning at deploy
(``engine.validation``) and an incident when an instance reaches it (``engine.runtime.services``).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from typing import Any

from lxml import etree

from engine.spiff import juel
from engine.spiff.xmlcheck import BPMN_NS

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
EXTENSION = "camundaForm"
_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"}, "long": {"type": "integer"}, "integer": {"type": "integer"},
    "short": {"type": "integer"}, "double": {"type": "number"}, "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date-time"}, "enum": {"type": "string"},
}


def _typed(kind: str, raw: str | None) -> Any:
    """A ``defaultValue`` as the field's type; a value that does not convert stays the text."""
    if raw is None or raw == "":
        return None
    try:
        if kind in ("long", "integer", "short"):
            return int(raw)
        if kind == "double":
            return float(raw)
    except ValueError:
        return raw
    if kind == "boolean" and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return raw


def _field(kind: str, label: str | None, default: str | None, options: list[tuple[str, str]],
           required: bool) -> tuple[dict[str, Any], bool]:
    prop: dict[str, Any] = dict(_TYPES.get(kind, {"type": "string"}))
    if label:
        prop["title"] = label
    if options:
        prop["enum"] = [key for key, _name in options]
        prop["enumNames"] = [name or key for key, name in options]
    value = _typed(kind, default)
    if value is not None:
        prop["default"] = value
    return prop, required


def _schema(fields: list[tuple[str, dict[str, Any], bool]]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": {name: prop for name, prop, _ in fields}}
    required = [name for name, _prop, req in fields if req]
    if required:
        schema["required"] = required
    return schema


def schema_of(element: etree._Element) -> dict[str, Any] | None:
    """The JSON Schema of the ``camunda:formData`` under ``element`` (a user task or start
    event), or None when it has none."""
    form = element.find(f"./{{*}}extensionElements/{{{CAMUNDA_NS}}}formData")
    if form is None:
        return None
    fields = []
    for f in form.iter(f"{{{CAMUNDA_NS}}}formField"):
        name = f.get("id")
        if not name:
            continue
        options = [(v.get("id") or "", v.get("name") or "") for v in f.iter(f"{{{CAMUNDA_NS}}}value")]
        required = any(c.get("name") == "required" for c in f.iter(f"{{{CAMUNDA_NS}}}constraint"))
        kind = f.get("type") or "string"
        prop, req = _field(kind, f.get("label"), f.get("defaultValue"), options, required)
        fields.append((name, prop, req))
    return _schema(fields)


def forms_in(tree: etree._ElementTree) -> dict[str, dict[str, Any]]:
    """Element id -> form schema, for every element of the tree with a ``camunda:formData``."""
    out = {}
    for form in tree.getroot().iter(f"{{{CAMUNDA_NS}}}formData"):
        owner = form.getparent().getparent() if form.getparent() is not None else None
        if owner is not None and owner.get("id"):
            schema = schema_of(owner)
            if schema is not None:
                out[owner.get("id")] = schema
    return out


def attach(specs: Any, tree: etree._ElementTree) -> None:
    """Put each element's Camunda form (JSON Schema) and assignment on the task specs (of the
    given process specs) drawn for it, as ``extensions`` the serializer keeps."""
    found = {EXTENSION: forms_in(tree), PEOPLE: people_in(tree), ASYNC: async_in(tree)}
    if not any(found.values()):
        return
    for spec in specs:
        for task_spec in spec.task_specs.values():
            bpmn_id = getattr(task_spec, "bpmn_id", None) or ""
            for key, by_id in found.items():
                if bpmn_id in by_id:
                    if getattr(task_spec, "extensions", None) is None:
                        task_spec.extensions = {}
                    task_spec.extensions[key] = by_id[bpmn_id]


def form_schema(task_spec: Any) -> dict[str, Any] | None:
    """The Camunda form of a user task as JSON Schema, or None when it was drawn without one."""
    attached = (getattr(task_spec, "extensions", None) or {}).get(EXTENSION)
    if attached is not None:
        return attached
    form = getattr(task_spec, "form", None)  # the Camunda parser's UserTask
    if form is None or not getattr(form, "fields", None):
        return None
    fields = []
    for f in form.fields:
        options = [(o.id, o.name) for o in getattr(f, "options", [])]
        prop, req = _field(f.type or "string", f.label, f.default_value or None, options,
                           any(v.name == "required" for v in f.validation))
        fields.append((f.id, prop, req))
    return _schema(fields)


def submitted(schema: dict[str, Any]) -> dict[str, Any]:
    """What submitting ``schema``'s form untouched sets: every field, at its default, else null
    (a boolean: false)."""
    out: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if "default" in prop:
            out[name] = prop["default"]
        else:
            out[name] = False if prop.get("type") == "boolean" else None
    return out


OPERATOR_ATTRS = ("topic", "delegateExpression", "class", "expression", "type")
"""Where a Camunda 7 or Flowable service task names what runs it, in the order read: an
external-task topic, a delegate expression, a Java class, an expression (``type`` alone: e.g.
``external``)."""
FLOWABLE_NS = ("http://flowable.org/bpmn", "http://activiti.org/bpmn")
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
_PLAIN = re.compile(r"[$#]\{\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}")


def _attributes(element: etree._Element, names: tuple[str, ...]) -> Iterator[str]:
    """The values set of the Camunda 7 or Flowable attributes ``names``, in that order, stripped."""
    for attr in names:
        for ns in (CAMUNDA_NS, *FLOWABLE_NS):
            value = (element.get(f"{{{ns}}}{attr}") or "").strip()
            if value:
                yield value


def _operator_attribute(element: etree._Element) -> str:
    return next(_attributes(element, OPERATOR_ATTRS), "")


def operator_name(element: etree._Element) -> str:
    """The operator a service task calls (``""`` when it names none), the first drawn of:

    - a Camunda 7 or Flowable attribute of ``OPERATOR_ATTRS``: ``${name}`` or ``#{bean.path}``
      unwrapped to the name, a method call ``${bean.method(args)}`` to ``bean.method`` (its
      arguments are ``operator_params``);
    - a Camunda 8 job type (``zeebe:taskDefinition type``), when it is a literal (``=...`` is a
      FEEL expression chosen at run time: not a name);
    - BPMN's own ``operationRef``: the operation's ``implementationRef``, else its name.
    """
    value = _operator_attribute(element)
    if value:
        plain = _PLAIN.fullmatch(value)
        if plain:
            return plain.group(1)
        try:
            call = juel.operator_call(value) if juel.is_juel(value) else None
        except juel.JuelUnsupported:  # operator_params refuses it at parse, naming the argument
            call = None
        return call[0] if call else value
    job = element.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}taskDefinition")
    job_type = (job.get("type") or "").strip() if job is not None else ""
    if job_type and not job_type.startswith("="):
        return job_type
    return _operation_name(element)


def operator_params(element: etree._Element) -> dict[str, str]:
    """The arguments of a service task drawn as a method call (``${svc.analyse(comment)}``): the
    operator's parameter name -> its JUEL expression, evaluated in the sandbox when the task runs.
    ``juel.JuelUnsupported`` names an argument outside the subset."""
    value = _operator_attribute(element)
    call = juel.operator_call(value) if value and juel.is_juel(value) else None
    return call[1] if call else {}


RESULT_ATTRS = ("resultVariable", "resultVariableName")


def result_variable(element: etree._Element, bpmn_id: str) -> str:
    """Where the operator's result goes: ``camunda:resultVariable`` (Flowable:
    ``resultVariableName``) when drawn, else ``<task id>_result``."""
    return next((value for value in _attributes(element, RESULT_ATTRS)
                 if value.isidentifier() and not value.startswith("_")), f"{bpmn_id}_result")


def _operation_name(element: etree._Element) -> str:
    """The ``operation`` (of an ``interface``) that ``operationRef`` names, as an operator name."""
    ref = (element.get("operationRef") or "").strip().rpartition(":")[2]
    if not ref:
        return ""
    for operation in element.getroottree().getroot().iter(f"{{{BPMN_NS}}}operation"):
        if operation.get("id") == ref:
            return ((operation.get("implementationRef") or "").strip().rpartition(":")[2]
                    or (operation.get("name") or "").strip())
    return ""


def operator_references(tree: etree._ElementTree) -> list[tuple[str | None, int, str]]:
    """(element id, line, operator) for each service-like task drawn with a Camunda operator."""
    out = []
    for tag in ("serviceTask", "sendTask"):
        for el in tree.getroot().iter(f"{{{BPMN_NS}}}{tag}"):
            name = operator_name(el)
            if name:
                out.append((el.get("id"), el.sourceline, name))
    return out


PEOPLE = "camundaPeople"
ASYNC = "camundaAsyncBefore"


def _names(raw: str | None) -> list[str]:
    return [n.strip() for n in (raw or "").split(",") if n.strip()]


def people_in(tree: etree._ElementTree) -> dict[str, dict[str, Any]]:
    """Element id -> ``{assignee, users, groups}`` for each user task with a Camunda assignment
    (``camunda:assignee``, ``candidateUsers``, ``candidateGroups``; lists comma-separated)."""
    out = {}
    for el in tree.getroot().iter(f"{{{BPMN_NS}}}userTask"):
        assignee = (el.get(f"{{{CAMUNDA_NS}}}assignee") or "").strip() or None
        users = _names(el.get(f"{{{CAMUNDA_NS}}}candidateUsers"))
        groups = _names(el.get(f"{{{CAMUNDA_NS}}}candidateGroups"))
        if el.get("id") and (assignee or users or groups):
            out[el.get("id")] = {"assignee": assignee, "users": users, "groups": groups}
    return out


def people(task_spec: Any) -> dict[str, Any] | None:
    """The Camunda assignment the loader attached to a user task, if it was drawn with one."""
    return (getattr(task_spec, "extensions", None) or {}).get(PEOPLE)


def async_in(tree: etree._ElementTree) -> dict[str, bool]:
    """Element id -> True for each service or send task drawn with ``camunda:asyncBefore="true"``."""
    return {el.get("id"): True
            for tag in ("serviceTask", "sendTask") for el in tree.getroot().iter(f"{{{BPMN_NS}}}{tag}")
            if el.get("id") and (el.get(f"{{{CAMUNDA_NS}}}asyncBefore") or "").strip().lower() == "true"}


def async_before(task_spec: Any) -> bool:
    """Was the service task drawn ``asyncBefore``? Then its operator runs as a job (the async
    path, ``engine.runtime.services``), whatever mode it was registered with."""
    return bool((getattr(task_spec, "extensions", None) or {}).get(ASYNC))


class MappingUnsupported(ValueError):
    """A ``camunda:inputOutput`` mapping aicmp cannot run (a script, list or map value, or JUEL
    outside the subset); the message names the parameter."""


def _value_source(param: etree._Element) -> str:
    """Python for a parameter's value: JUEL compiled, plain text as a string, empty as null."""
    if len(param):
        kind = etree.QName(param[0]).localname
        raise MappingUnsupported(f"parameter {param.get('name')!r}: a camunda:{kind} value is not supported")
    text = param.text or ""
    if not text.strip():
        return "None"
    if juel.is_juel(text):
        try:
            return juel.to_python(text)
        except juel.JuelUnsupported as exc:
            raise MappingUnsupported(f"parameter {param.get('name')!r}: JUEL outside the supported subset: "
                                     f"{exc}") from None
    return repr(text)


def mapping_scripts(element: etree._Element) -> tuple[str | None, str | None]:
    """(pre-script, post-script) for the ``camunda:inputOutput`` of ``element``: each input
    parameter set before the task runs, each output parameter after it; (None, None) without one.

    Unlike Camunda, an input parameter is not local to the task: it stays in the data after it."""
    io = element.find(f"./{{*}}extensionElements/{{{CAMUNDA_NS}}}inputOutput")
    if io is None:
        return None, None
    scripts: dict[str, list[str]] = {"inputParameter": [], "outputParameter": []}
    for param in io:
        kind = etree.QName(param).localname
        if kind not in scripts:
            continue
        name = param.get("name") or ""
        if not name.isidentifier() or name.startswith("_") or keyword.iskeyword(name):
            raise MappingUnsupported(f"parameter {name!r}: not a variable name aicmp can set")
        scripts[kind].append(f"{name} = {_value_source(param)}")
    return ("\n".join(scripts["inputParameter"]) or None, "\n".join(scripts["outputParameter"]) or None)


def mappings_in(tree: etree._ElementTree) -> dict[str, etree._Element]:
    """Element id -> element, for every element drawn with a ``camunda:inputOutput``."""
    out = {}
    for io in tree.getroot().iter(f"{{{CAMUNDA_NS}}}inputOutput"):
        parent = io.getparent()
        owner = parent.getparent() if parent is not None else None
        if owner is not None and owner.get("id"):
            out[owner.get("id")] = owner
    return out


def attach_mappings(specs: Any, tree: etree._ElementTree) -> list[tuple[str, str]]:
    """Turn each ``camunda:inputOutput`` into the task spec's pre- and post-script (before any it
    already has); returns (element id, problem) for mappings it cannot run or that sit on specs
that run no scripts."""
    elements = mappings_in(tree)
    problems = []
    for spec in specs:
        for task_spec in spec.task_specs.values():
            element = elements.get(getattr(task_spec, "bpmn_id", None) or "")
            if element is None:
                continue
            try:
                pre, post = mapping_scripts(element)
            except MappingUnsupported as exc:
                problems.append((element.get("id"), f"camunda:inputOutput: {exc}"))
                continue
            if not hasattr(task_spec, "prescript"):
                problems.append((element.get("id"), "camunda:inputOutput is not supported on this element"))
                continue
            task_spec.prescript = "\n".join(s for s in (pre, task_spec.prescript) if s) or None
            task_spec.postscript = "\n".join(s for s in (task_spec.postscript, post) if s) or None
    return problems
