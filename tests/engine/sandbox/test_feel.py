"""FEEL (Camunda 8, DMN tools) and XPath (BPMN's default) conditions compile to Python the sandbox
checks and runs; anything outside the subset, escapes included, is refused at deploy, and a Python
condition stays Python."""

from __future__ import annotations

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow

from engine.sandbox import SandboxEnvironment, check_source
from engine.spiff import feel
from engine.spiff.feel import FEEL, XPATH, FeelUnsupported, Names, dialect, to_python
from engine.spiff.script_engine import AicmpScriptEngine
from engine.validation import validate_files

DECLARED = Names(data=(("Vacation Approval", "_c2d108b2-e6c0"), ("approved", "DataObject_1")),
                 objects=(("approved", "DataObject_1"), ("clarified", "DataObject_2"),
                          ("DataObject_1", "DataObject_1")))


def run(language: str, expression: str, data: dict, objects: dict | None = None) -> object:
    """Evaluate as the script engine does: compile, then the sandbox with the FEEL helper."""
    scopes = (data, objects or {})
    return SandboxEnvironment().evaluate(to_python(language, expression, DECLARED), data, feel.helpers(*scopes))


@pytest.mark.parametrize(("expression", "data", "value"), [
    ("= approved", {"approved": True}, True),
    ("= not(approved)", {"approved": True}, False),
    ("=fraud", {"fraud": False}, False),
    ('= some risk in riskLevels satisfies risk = "red"', {"riskLevels": ["yellow", "red"]}, True),
    ('= every risk in riskLevels satisfies risk = "yellow"', {"riskLevels": ["yellow", "red"]}, False),
    ('= every risk in riskLevels satisfies risk = "yellow"', {"riskLevels": []}, True),
    ("some a in xs, b in a satisfies b > 2", {"xs": [[1], [2, 3]]}, True),
    ('Vacation Approval = "Approved"', {"_c2d108b2-e6c0": "Approved"}, True),
    ('Vacation Approval != "Approved"', {"Vacation Approval": "Refused"}, True),
    ("order.total >= 100 and order.lines.count < 3", {"order": {"total": 100, "lines": {"count": 2}}}, True),
    ("a > 1 or b <= 0", {"a": 1, "b": 1}, False),
    ("(a + b) * 2 - c / 4 = 4", {"a": 1, "b": 2, "c": 8}, True),
    ("-x + .5", {"x": 1}, -0.5),
    ('name = "say \\"hi\\"\\n"', {"name": 'say "hi"\n'}, True),
    ("x = null", {"x": None}, True),
    ("true and not(false)", {}, True),
])
def test_the_feel_subset_evaluates_in_the_sandbox(expression: str, data: dict, value: object) -> None:
    assert run(FEEL, expression, data) == value


@pytest.mark.parametrize(("expression", "objects", "value"), [
    ("bpmn:getDataObject('approved')", {"DataObject_1": True}, True),
    ("not(bpmn:getDataObject('approved'))", {"DataObject_1": True}, False),
    ("bpmn:getDataObject('clarified') = 'yes'", {"DataObject_2": "yes"}, True),
    ("getDataObject(\"clarified\") != 'yes' or false()", {"DataObject_2": "no"}, True),
    ("getDataObject('DataObject_1') and (1 < 2)", {"DataObject_1": True}, True),
])
def test_the_xpath_subset_reads_data_objects(expression: str, objects: dict, value: object) -> None:
    assert run(XPATH, expression, {}, objects) == value


@pytest.mark.parametrize(("language", "expression", "named"), [
    (FEEL, '= date and time("2026-01-01T00:00:00") > now', "function call date and time(...)"),
    (FEEL, "= count(items) > 1", "function call count(...)"),
    (FEEL, "= x.__class__", "'__class__'"),
    (FEEL, "= __import__", "'__import__'"),
    (FEEL, "= feel_data", "reserved word"),
    (FEEL, "= lambda", "reserved word"),
    (FEEL, '= x["__class__"]', "filter or index"),
    (FEEL, "Service Level = 'Premium'", "name 'Service Level'"),
    (FEEL, "= if a then b else c", "if ... then ... else"),
    (FEEL, "= x between 1 and 2", "between"),
    (FEEL, "= not x", "'not'"),
    (FEEL, "= x ** 2", "'**'"),
    (FEEL, "= a = b = c", "chained comparison"),
    (FEEL, "= 9" + "9" * 40, "number literal"),
    (FEEL, "=", "empty"),
    (FEEL, '= "\\q"', "escape"),
    (XPATH, "bpmn:getDataObject('missing')", "no data object 'missing'"),
    (XPATH, "/process/approved", "unsupported '/'"),
    (XPATH, "Service Level == 'Premium'", "the path 'Service'"),
    (XPATH, "bpmn:getDataInput('x')", "getDataInput"),
    (XPATH, "getDataObject(name)", "one data object name in quotes"),
])
def test_anything_outside_the_subset_is_refused_naming_it(language: str, expression: str, named: str) -> None:
    with pytest.raises(FeelUnsupported) as info:
        to_python(language, expression, DECLARED)
    assert named in str(info.value)
    assert info.value.language == language


def test_compiled_expressions_pass_the_sandbox_policy() -> None:
    for language, expression in ((FEEL, '= some r in rs satisfies r.level = "red"'), (FEEL, 'Vacation Approval = "x"'),
                                 (XPATH, "not(bpmn:getDataObject('approved'))")):
        assert check_source(to_python(language, expression, DECLARED), "eval") == [], expression


def test_an_unknown_name_fails_the_evaluation_naming_it() -> None:
    with pytest.raises(NameError, match="nobody"):
        run(FEEL, "= nobody", {})
    with pytest.raises(NameError, match="approved"):
        run(XPATH, "bpmn:getDataObject('approved')", {})


def _condition(text: str, *, language: str | None = None, definitions: str | None = None) -> etree._Element:
    lang = f' language="{language}"' if language else ""
    expr = f' expressionLanguage="{definitions}"' if definitions else ""
    root = etree.fromstring(
        f'<definitions xmlns="{feel.BPMN_NS}"{expr}><process id="p"><sequenceFlow id="f">'
        f"<conditionExpression{lang}>{text}</conditionExpression></sequenceFlow></process></definitions>")
    return root.find(f".//{{{feel.BPMN_NS}}}conditionExpression")


XPATH_URI = "http://www.w3.org/1999/XPath"
FEEL_URI = "https://www.omg.org/spec/DMN/20191111/FEEL/"


@pytest.mark.parametrize(("text", "language", "definitions", "expected"), [
    ("= approved", None, None, FEEL),                        # Zeebe's marker
    ("a == 1", None, XPATH_URI, None),                       # Python, as tools stamp XPath on every file
    ("approved", None, FEEL_URI, None),                      # Python too: a file-wide default does not apply
    ("a = 1", None, FEEL_URI, FEEL),
    ("approved", FEEL_URI, None, FEEL),                      # declared on the element: FEEL
    ("true", XPATH_URI, None, None),                         # Python, though the element says XPath
    ("bpmn:getDataObject('a')", None, None, XPATH),          # BPMN's default language
    ("a = 1", None, None, None),                             # not Python, nothing declared: stays refused as Python
    ("${approved}", FEEL_URI, None, None),                   # JUEL stays JUEL
    ("a == 1", None, None, None),
])
def test_the_language_is_what_the_model_declares_and_python_stays_python(
        text: str, language: str | None, definitions: str | None, expected: str | None) -> None:
    assert dialect(_condition(text, language=language, definitions=definitions)) == expected


def _process(condition: str, *, language: str = "", objects: str = "", writer: str = "") -> bytes:
    """A gateway choosing ``end_yes`` when ``condition`` holds; ``writer`` runs before it."""
    lang = f' language="{language}"' if language else ""
    first = "write" if writer else "gw"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    {objects}
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="{first}"/>
    {writer}
    <bpmn:exclusiveGateway id="gw" default="no"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>yes</bpmn:outgoing><bpmn:outgoing>no</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="yes" sourceRef="gw" targetRef="end_yes">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"{lang}>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="no" sourceRef="gw" targetRef="end_no"/>
    <bpmn:endEvent id="end_yes"><bpmn:incoming>yes</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_no"><bpmn:incoming>no</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>""".encode()


def _ends(bpmn: bytes, data: dict) -> str:
    checked = validate_files({"p.bpmn": bpmn}, max_bytes=1_000_000)
    assert checked.ok, checked.errors
    [process] = checked.processes
    wf = BpmnWorkflow(process.spec, script_engine=AicmpScriptEngine())
    wf.get_tasks()[0].data.update(data)
    wf.do_engine_steps()
    assert wf.is_completed()
    return [t.task_spec.bpmn_id for t in wf.get_tasks() if t.task_spec.bpmn_id in ("end_yes", "end_no")][0]


@pytest.mark.parametrize(("levels", "end"), [(["yellow", "red"], "end_yes"), (["yellow"], "end_no")])
def test_a_zeebe_condition_deploys_and_routes(levels: list, end: str) -> None:
    bpmn = _process('= some risk in riskLevels satisfies risk = "red"').replace(b"f0", b"f1")
    assert _ends(bpmn, {"riskLevels": levels}) == end


_STATUS = ('<bpmn:ioSpecification><bpmn:dataOutput id="out_status" name="Vacation Approval"/>'
           "<bpmn:outputSet><bpmn:dataOutputRefs>out_status</bpmn:dataOutputRefs></bpmn:outputSet>"
           "</bpmn:ioSpecification>")


@pytest.mark.parametrize(("status", "end"), [("Approved", "end_yes"), ("Refused", "end_no")])
def test_a_feel_name_with_spaces_reads_the_data_output_the_model_declares(status: str, end: str) -> None:
    bpmn = _process('Vacation Approval = "Approved"', language=FEEL_URI, objects=_STATUS).replace(b"f0", b"f1")
    assert _ends(bpmn, {"out_status": status}) == end


_APPROVED = ('<bpmn:dataObject id="DataObject_approved" name="approved"/>'
             '<bpmn:dataObjectReference id="ref_approved" dataObjectRef="DataObject_approved"/>')
_WRITER = ('<bpmn:scriptTask id="write"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>'
           '<bpmn:dataOutputAssociation id="da"><bpmn:targetRef>ref_approved</bpmn:targetRef>'
           "</bpmn:dataOutputAssociation><bpmn:script>DataObject_approved = amount &lt; 100</bpmn:script>"
           '</bpmn:scriptTask><bpmn:sequenceFlow id="f1" sourceRef="write" targetRef="gw"/>')


@pytest.mark.parametrize(("amount", "condition", "end"), [
    (50, "bpmn:getDataObject('approved')", "end_yes"),
    (500, "bpmn:getDataObject('approved')", "end_no"),
    (500, "not(bpmn:getDataObject('approved'))", "end_yes"),
])
def test_an_xpath_condition_reads_the_data_object_a_task_wrote(amount: int, condition: str, end: str) -> None:
    bpmn = _process(condition.replace("'", "&apos;"), objects=_APPROVED, writer=_WRITER)
    assert _ends(bpmn, {"amount": amount}) == end


@pytest.mark.parametrize(("condition", "language", "message"), [
    ('= date and time("2026-01-01T00:00:00Z") &lt; now', "",
     "condition: FEEL outside the supported subset: the function call date and time(...)"),
    ("= x.__class__.__base__", "", "condition: FEEL outside the supported subset: the property '__class__'"),
    ("Service Level = 'Premium'", FEEL_URI, "condition: FEEL outside the supported subset: the name 'Service Level'"),
    ("bpmn:getDataObject(&apos;nothing&apos;)", "",
     "condition: XPath outside the supported subset: getDataObject('nothing'): the model declares no data object"),
])
def test_outside_the_subset_is_refused_at_deploy_with_element_and_line(condition: str, language: str,
                                                                        message: str) -> None:
    bpmn = _process(condition, language=language)
    checked = validate_files({"p.bpmn": bpmn}, max_bytes=1_000_000)
    assert not checked.ok
    [error] = checked.errors
    line = bpmn[:bpmn.index(b"<bpmn:conditionExpression")].count(b"\n") + 1
    assert error.element_id == "yes" and error.line == line
    assert error.message.startswith(message), error.message


def test_the_stored_model_keeps_its_feel_only_the_parse_sees_python() -> None:
    bpmn = _process("= approved").replace(b"f0", b"f1")
    tree = etree.ElementTree(etree.fromstring(bpmn))
    compiled = feel.with_compiled_conditions(tree)
    assert compiled is not tree
    assert tree.getroot().find(f".//{{{feel.BPMN_NS}}}conditionExpression").text == "= approved"
    assert compiled.getroot().find(f".//{{{feel.BPMN_NS}}}conditionExpression").text == "approved"
    python = etree.ElementTree(etree.fromstring(_process("approved == True").replace(b"f0", b"f1")))
    assert feel.with_compiled_conditions(python) is python
