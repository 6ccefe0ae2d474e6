"""Safe first look at uploaded BPMN/DMN XML, before SpiffWorkflow parses anything.

Uploaded XML is untrusted: a DTD can read local files (XXE), fetch URLs or expand entities
without bound, so ``parse_xml`` refuses any DOCTYPE and parses with entity resolution,
DTD loading and network access switched off.  The helpers then walk that one tree to find
every piece of Python the engine will run (``script_sites``) and the files, operators and
processes a model refers to, each with a line number and an element id a designer can find.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN13_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"
DMN12_NS = "http://www.omg.org/spec/DMN/20180521/MODEL/"
DMN11_NS = "http://www.omg.org/spec/DMN/20151101/dmn.xsd"
DMN11_FLOWABLE_NS = "http://www.omg.org/spec/DMN/20151101"  # Flowable's spelling; Spiff ships no XSD for it
DMN_NAMESPACES = (DMN13_NS, DMN12_NS, DMN11_NS, DMN11_FLOWABLE_NS)

# spiffworkflow:property names whose value is a form file deployed next to the model.
FORM_PROPERTY_NAMES = ("formJsonSchemaFilename", "formUiSchemaFilename")
MAX_XSD_FINDINGS = 50


@dataclass(frozen=True)
class Finding:
    """One error or warning, worded for the designer who has to fix the model."""

    file: str
    line: int | None
    element_id: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.element_id:
            where += f" [{self.element_id}]"
        return f"{where}: {self.message}"


class XmlRejected(Exception):
    """The file must not be parsed any further; ``finding`` says where and why."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(str(finding))
        self.finding = finding


@dataclass(frozen=True)
class ScriptSite:
    """A piece of Python the engine will exec or eval; ``line`` is where ``source`` starts."""

    element_id: str | None
    line: int
    kind: str
    source: str
    mode: str
    element: etree._Element | None = field(default=None, compare=False, repr=False)  # where it is written


@dataclass(frozen=True)
class Reference:
    """A name the model points at (form file, operator, called process) and where it is."""

    element_id: str | None
    line: int
    value: str


# ---------------------------------------------------------------------------- parsing

# A DOCTYPE may only follow whitespace, PIs and comments.  Possessive repetition keeps the
# scan linear, and anchoring on the prolog avoids false alarms on "<!DOCTYPE" inside CDATA.
_PROLOG_DOCTYPE = re.compile(r"(?:\s|<\?.*?\?>|<!--.*?-->)*+<!DOCTYPE", re.S)


def _sniff_text(data: bytes) -> str:
    """Decode just well enough to look at the prolog; the real decoding is libxml2's job."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace").lstrip("\ufeff")
    if data.startswith(b"<\x00"):
        return data.decode("utf-16-le", "replace")
    if data.startswith(b"\x00<"):
        return data.decode("utf-16-be", "replace")
    return data.removeprefix(b"\xef\xbb\xbf").decode("latin-1")


def _doctype_line(data: bytes) -> int | None:
    """Line of a DOCTYPE in the prolog, found without parsing (so no DTD ever reaches libxml2)."""
    text = _sniff_text(data)
    match = _PROLOG_DOCTYPE.match(text)
    if match is None:
        return None
    return text.count("\n", 0, match.end()) + 1


def _parser() -> etree.XMLParser:
    """A fresh parser per call: lxml parsers are not meant to be shared between threads."""
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        dtd_validation=False,
        huge_tree=False,
        attribute_defaults=False,
    )


_DTD_MESSAGE = "DOCTYPE/DTD declarations are not allowed (they can read files, fetch URLs or expand entities)"


def parse_xml(file: str, data: bytes, max_bytes: int) -> etree._ElementTree:
    """Parse untrusted XML or raise ``XmlRejected``; nothing is fetched and no entity expanded."""
    if len(data) > max_bytes:
        raise XmlRejected(Finding(file, None, None, f"file is {len(data)} bytes; the limit is {max_bytes}"))
    line = _doctype_line(data)
    if line is not None:
        raise XmlRejected(Finding(file, line, None, _DTD_MESSAGE))
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        message = f"not well-formed XML: {exc.msg}"
        raise XmlRejected(Finding(file, exc.lineno or None, None, message)) from None
    except ValueError as exc:  # e.g. an unsupported encoding declaration
        raise XmlRejected(Finding(file, None, None, f"unreadable XML: {exc}")) from None
    tree = root.getroottree()
    info = tree.docinfo
    # Second line of defence, for DOCTYPEs the prolog scan could not see (odd encodings).
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None or info.system_url:
        raise XmlRejected(Finding(file, None, None, _DTD_MESSAGE))
    for entity in tree.iter(etree.Entity):
        parent = entity.getparent()
        where = entity.sourceline or (parent.sourceline if parent is not None else None)
        raise XmlRejected(Finding(file, where, None, f"entity reference {entity.text} is not allowed"))
    return tree


# ---------------------------------------------------------------------------- element ids


def _is_extension(tag: object) -> bool:
    return isinstance(tag, str) and tag.endswith("}extensionElements")


def _owner_id(el: etree._Element) -> str | None:
    """Nearest ancestor-or-self id that is a model id.

    Ids inside ``extensionElements`` are not model ids (``spiffworkflow:parameter id="flavor"``
    is a parameter name), so they are skipped: a designer must find the element in the modeler.
    """
    found: str | None = None
    node: etree._Element | None = el
    while node is not None:
        if _is_extension(node.tag):
            found = None
        elif found is None and node.get("id"):
            found = node.get("id")
        node = node.getparent()
    return found


def element_lines(tree: etree._ElementTree) -> dict[str, int]:
    """Every element id -> source line; model elements win over same-id extension elements."""
    lines: dict[str, int] = {}
    for query in ("//*[@id][not(ancestor::*[local-name()='extensionElements'])]", "//*[@id]"):
        for el in tree.xpath(query):
            lines.setdefault(el.get("id"), el.sourceline)
    return lines


# ---------------------------------------------------------------------------- script sites


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


# Elements whose text is code wherever they occur.
_TEXT_KINDS: dict[str, tuple[str, str]] = {
    _q(BPMN_NS, "script"): ("script", "exec"),
    _q(SPIFF_NS, "preScript"): ("preScript", "exec"),
    _q(SPIFF_NS, "postScript"): ("postScript", "exec"),
    _q(BPMN_NS, "conditionExpression"): ("condition", "eval"),
    _q(BPMN_NS, "timeDuration"): ("timer", "eval"),
    _q(BPMN_NS, "timeDate"): ("timer", "eval"),
    _q(BPMN_NS, "timeCycle"): ("timer", "eval"),
    _q(BPMN_NS, "loopCardinality"): ("cardinality", "eval"),
    _q(BPMN_NS, "completionCondition"): ("completionCondition", "eval"),
    _q(BPMN_NS, "loopCondition"): ("loopCondition", "eval"),
    _q(BPMN_NS, "messagePath"): ("messagePath", "eval"),
    _q(BPMN_NS, "dataPath"): ("dataPath", "eval"),
    _q(SPIFF_NS, "messagePayload"): ("messagePayload", "eval"),
    _q(SPIFF_NS, "payloadExpression"): ("payloadExpression", "eval"),
}
# Elements whose text is code only under a given parent: (tag, parent tag) -> kind.
_CHILD_KINDS: dict[tuple[str, str], str] = {
    # bpmn-js writes formalExpression where the schema says messagePath; Spiff reads either.
    (_q(BPMN_NS, "formalExpression"), _q(BPMN_NS, "correlationPropertyRetrievalExpression")): "messagePath",
    (_q(BPMN_NS, "condition"), _q(BPMN_NS, "conditionalEventDefinition")): "eventCondition",
    (_q(SPIFF_NS, "expression"), _q(SPIFF_NS, "processVariableCorrelation")): "correlationExpression",
}
for _ns in DMN_NAMESPACES:
    _CHILD_KINDS[(_q(_ns, "text"), _q(_ns, "inputExpression"))] = "dmnInput"
    _CHILD_KINDS[(_q(_ns, "text"), _q(_ns, "inputEntry"))] = "dmnInputEntry"
    _CHILD_KINDS[(_q(_ns, "text"), _q(_ns, "outputEntry"))] = "dmnOutputEntry"
_PARAMETER = _q(SPIFF_NS, "parameter")
_OPERATOR = _q(SPIFF_NS, "serviceTaskOperator")
_SITE_TAGS = tuple({*_TEXT_KINDS, *(tag for tag, _ in _CHILD_KINDS), _PARAMETER})


def _site_for(el: etree._Element) -> tuple[str, str, str | None] | None:
    """(kind, mode, source) for an element the engine evaluates, else None."""
    if el.tag == _PARAMETER:
        if next(el.iterancestors(_OPERATOR), None) is None:
            return None
        return "parameter", "eval", el.get("value")
    if el.tag in _TEXT_KINDS:
        kind, mode = _TEXT_KINDS[el.tag]
        return kind, mode, el.text
    parent = el.getparent()
    kind = _CHILD_KINDS.get((el.tag, parent.tag)) if parent is not None else None
    if kind is None or (kind == "dmnInputEntry" and (el.text or "").strip() == "-"):
        return None  # '-' is DMN for "any value"; Spiff turns it into no test at all
    return kind, "eval", el.text


def script_sites(tree: etree._ElementTree) -> list[ScriptSite]:
    """Every piece of Python SpiffWorkflow will exec/eval, in document order, BPMN and DMN.

    ``source`` is exactly the text the engine gets (CDATA unwrapped, not stripped), and ``line``
    is where that text starts (libxml2 records the line of the start tag's ``>``), so a
    ``SyntaxError`` at line ``n`` of the source is at ``line + n - 1`` in the file.
    """
    sites: list[ScriptSite] = []
    for el in tree.getroot().iter(*_SITE_TAGS):
        found = _site_for(el)
        if found is None or not (found[2] or "").strip():
            continue
        kind, mode, source = found
        sites.append(ScriptSite(_owner_id(el), el.sourceline, kind, source, mode, el))
    return sites


# ---------------------------------------------------------------------------- references


def form_references(tree: etree._ElementTree) -> list[Reference]:
    """Form JSON files named by ``spiffworkflow:property`` (spiff-arena style).

    ``camunda:formKey`` is deliberately not reported: it names Camunda-hosted forms
    ("embedded:app:...", "camunda-forms:...", or a bare key), never a JSON file deployed with
    the model, and SpiffWorkflow ignores it.
    """
    refs = []
    for el in tree.getroot().iter(_q(SPIFF_NS, "property")):
        value = (el.get("value") or "").strip()
        if el.get("name") in FORM_PROPERTY_NAMES and value:
            refs.append(Reference(_owner_id(el), el.sourceline, value))
    return refs


def operator_references(tree: etree._ElementTree) -> list[Reference]:
    """Connector operators (``spiffworkflow:serviceTaskOperator id``) the model calls."""
    return [
        Reference(_owner_id(el), el.sourceline, el.get("id"))
        for el in tree.getroot().iter(_OPERATOR)
        if el.get("id")
    ]


def called_process_ids(tree: etree._ElementTree) -> list[Reference]:
    """Processes named by ``callActivity calledElement``, which must be deployed too."""
    return [
        Reference(_owner_id(el), el.sourceline, el.get("calledElement"))
        for el in tree.getroot().iter(_q(BPMN_NS, "callActivity"))
        if el.get("calledElement")
    ]



CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
STARTERS_PROPERTY = "candidateStarterGroups"  # spiffworkflow:property on the process, as Camunda names it


@dataclass(frozen=True)
class StartDeclaration:
    """How a process may be started over the API, as its model declares it.

    ``roles``: the role codes that may start it (``candidateStarterGroups``, comma-separated, on
    the process as a ``spiffworkflow:property`` or Camunda's attribute); None when undeclared.
    ``form``: the JSON-Schema file its none start event names (``formJsonSchemaFilename``): the
    only variables a start request may pass. None: a start request passes no variables.
    """

    roles: tuple[str, ...] | None = None
    form: str | None = None


def _spiff_properties(el: etree._Element) -> dict[str, str]:
    ext = el.find(_q(BPMN_NS, "extensionElements"))
    if ext is None:
        return {}
    return {p.get("name") or "": (p.get("value") or "").strip()
            for p in ext.iter(_q(SPIFF_NS, "property"))}


def start_declarations(tree: etree._ElementTree) -> dict[str, StartDeclaration]:
    """Each process id's ``StartDeclaration``."""
    found = {}
    for process in tree.getroot().iter(_q(BPMN_NS, "process")):
        props = _spiff_properties(process)
        starters = props.get(STARTERS_PROPERTY, process.get(_q(CAMUNDA_NS, STARTERS_PROPERTY)))
        roles = None if starters is None else tuple(r.strip() for r in starters.split(",") if r.strip())
        form = None
        for start in process.findall(_q(BPMN_NS, "startEvent")):  # direct children: not subprocesses'
            if any(child.tag.endswith("EventDefinition") for child in start):
                continue
            form = _spiff_properties(start).get("formJsonSchemaFilename") or form
        found[process.get("id") or ""] = StartDeclaration(roles, form)
    return found


# ---------------------------------------------------------------------------- XSD

XS_NS = "http://www.w3.org/2001/XMLSchema"
_SCHEMA_LOCK = threading.Lock()  # an XMLSchema keeps one error_log, so validate one at a time
_DMN_XSD = {DMN13_NS: "DMN13.xsd", DMN12_NS: "DMN12.xsd", DMN11_NS: "DMN.xsd"}


@cache
def _schema(namespace: str | None) -> etree.XMLSchema | None:
    """SpiffWorkflow's own XSDs, read from its package without importing its parser."""
    spec = importlib.util.find_spec("SpiffWorkflow")
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(next(iter(spec.submodule_search_locations)))
    if namespace == BPMN_NS:
        # The same schema as SpiffWorkflow.spiff.parser.VALIDATOR: BPMN 2.0 plus the spiff extensions.
        doc = etree.parse(str(base / "bpmn/parser/schema/BPMN20.xsd"))
        spiff_xsd = str(base / "spiff/parser/schema/spiffworkflow.xsd")
        xs_import = etree.Element(_q(XS_NS, "import"), namespace=SPIFF_NS, schemaLocation=spiff_xsd)
        doc.getroot().insert(0, xs_import)
    elif namespace in _DMN_XSD:
        doc = etree.parse(str(base / "dmn/parser/schema" / _DMN_XSD[namespace]))
    else:
        return None
    return etree.XMLSchema(doc)


_CORRELATION_FORMAL = f"{{{BPMN_NS}}}correlationPropertyRetrievalExpression/{{{BPMN_NS}}}formalExpression"


def _validation_copy(tree: etree._ElementTree) -> etree._ElementTree:
    """Apply SpiffWorkflow's own bpmn-js fix-up (formalExpression -> messagePath) to a copy."""
    if next(tree.getroot().iterfind(".//" + _CORRELATION_FORMAL), None) is None:
        return tree
    fixed = copy.deepcopy(tree)  # keeps sourceline; the caller's tree stays untouched
    for el in fixed.getroot().iterfind(".//" + _CORRELATION_FORMAL):
        el.tag = _q(BPMN_NS, "messagePath")
    return fixed


def _element_at(tree: etree._ElementTree, path: str | None, line: int) -> etree._Element | None:
    """The element an XSD error is about: by its XPath when that resolves, else by line."""
    root = tree.getroot()
    if path:
        try:
            hit = tree.xpath(path, namespaces={k: v for k, v in root.nsmap.items() if k})
        except etree.XPathError:
            hit = None
        if isinstance(hit, list) and len(hit) == 1 and isinstance(hit[0], etree._Element):
            return hit[0]
    candidates = [el for el in root.iter(etree.Element) if el.sourceline == line]
    return candidates[-1] if candidates else None


def _readable(message: str, nsmap: dict[str | None, str]) -> str:
    """Turn '{http://...MODEL}task' into 'bpmn:task' and keep messages short."""
    prefixes = {uri: (f"{prefix}:" if prefix else "") for prefix, uri in nsmap.items()}
    text = re.sub(r"\{([^}]*)\}", lambda m: prefixes.get(m.group(1), m.group(0)), message)
    return text if len(text) <= 300 else text[:297] + "..."


def xsd_findings(file: str, tree: etree._ElementTree) -> list[Finding]:
    """XSD violations against SpiffWorkflow's schemas, as warnings with line and element id."""
    root = tree.getroot()
    namespace = etree.QName(root).namespace
    with _SCHEMA_LOCK:
        schema = _schema(namespace)
        if schema is None:
            name = _readable(root.tag, root.nsmap)
            message = f"no SpiffWorkflow schema for root element {name}; not validated"
            return [Finding(file, root.sourceline, root.get("id"), message)]
        schema.validate(_validation_copy(tree))
        errors = list(schema.error_log)
    findings = []
    for err in errors[:MAX_XSD_FINDINGS]:
        el = _element_at(tree, err.path, err.line)
        owner = _owner_id(el) if el is not None else None
        findings.append(Finding(file, err.line or None, owner, _readable(err.message, root.nsmap)))
    if len(errors) > MAX_XSD_FINDINGS:
        findings.append(Finding(file, None, None, f"{len(errors) - MAX_XSD_FINDINGS} more schema errors"))
    return findings
