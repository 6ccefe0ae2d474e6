"""Tests for engine.spiff.xmlcheck: safe parsing, script sites, references, XSD warnings."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from engine.spiff import xmlcheck
from engine.spiff.xmlcheck import (
    Finding,
    Reference,
    ScriptSite,
    XmlRejected,
    called_process_ids,
    element_lines,
    form_references,
    operator_references,
    parse_xml,
    script_sites,
    xsd_findings,
)

LIMIT = 1_000_000


def line_of(text: str, needle: str) -> int:
    """1-based line of the only occurrence of needle, so expected lines follow the fixture."""
    assert text.count(needle) == 1, needle
    return text[: text.index(needle)].count("\n") + 1


def rejected(data: bytes, name: str = "x.bpmn") -> Finding:
    with pytest.raises(XmlRejected) as info:
        parse_xml(name, data, LIMIT)
    return info.value.finding


@pytest.fixture
def no_prolog_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Switch off the pre-parse DOCTYPE scan to prove the parser-level defences on their own."""
    monkeypatch.setattr(xmlcheck, "_doctype_line", lambda data: None)


# ------------------------------------------------------------------------------ rejections


def test_finding_str() -> None:
    assert str(Finding("a.bpmn", 12, "Task_1", "boom")) == "a.bpmn:12 [Task_1]: boom"
    assert str(Finding("a.bpmn", None, None, "boom")) == "a.bpmn: boom"
    err = XmlRejected(Finding("a.bpmn", 3, None, "bad"))
    assert err.finding.line == 3 and str(err) == "a.bpmn:3: bad"


def test_oversize_is_rejected_before_parsing() -> None:
    with pytest.raises(XmlRejected) as info:
        parse_xml("big.bpmn", b"not xml at all" * 10, 100)
    assert "limit is 100" in info.value.finding.message
    assert info.value.finding.line is None
    assert parse_xml("ok.bpmn", b"<a/>", 4).getroot().tag == "a"  # exactly the limit is fine


@pytest.mark.parametrize("prolog_scan", [True, False])
def test_external_entity_file_is_never_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prolog_scan: bool
) -> None:
    marker = "MARKER_7f3c_SECRET"
    secret = tmp_path / "secret.txt"
    secret.write_text(marker)
    uri = secret.as_uri()
    documents = [
        f'<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY x SYSTEM "{uri}">]>\n<a>&x;</a>',
        f'<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY % p SYSTEM "{uri}"> %p;]>\n<a b="1">x</a>',
        f'<!DOCTYPE a [<!ENTITY x SYSTEM "{uri}">]><a><b c="&x;"/></a>',
    ]
    if not prolog_scan:
        monkeypatch.setattr(xmlcheck, "_doctype_line", lambda data: None)
    for doc in documents:
        data = doc.encode()
        finding = rejected(data)
        assert marker not in str(finding)
        if prolog_scan:
            assert finding.line == line_of(doc, "<!DOCTYPE")
        # The parser itself must not have resolved anything either.
        try:
            root = etree.fromstring(data, xmlcheck._parser())
        except etree.XMLSyntaxError as exc:
            assert marker not in str(exc)
            continue
        assert marker not in etree.tostring(root.getroottree()).decode()
        assert all(marker not in (el.text or "") for el in root.iter())


def test_external_dtd_is_rejected_and_not_loaded(tmp_path: Path, no_prolog_scan: None) -> None:
    dtd = tmp_path / "x.dtd"
    dtd.write_text('<!ENTITY m "MARKER_DTD_91">')
    for system in (dtd.as_uri(), "http://127.0.0.1:9/evil.dtd"):
        doc = f'<?xml version="1.0"?>\n<!DOCTYPE a SYSTEM "{system}">\n<a>&m;</a>'.encode()
        finding = rejected(doc)
        assert "MARKER_DTD_91" not in str(finding)
        assert "DOCTYPE" in finding.message or "entity" in finding.message


def test_external_dtd_url_rejected_with_line() -> None:
    doc = b'<?xml version="1.0"?>\n<!-- c -->\n<!DOCTYPE a SYSTEM "http://example.com/a.dtd">\n<a/>'
    finding = rejected(doc)
    assert finding.line == 3 and "DOCTYPE" in finding.message


def _billion_laughs() -> str:
    entities, previous = ['<!ENTITY lol "lol">'], "lol"
    for i in range(1, 10):
        entities.append(f'<!ENTITY lol{i} "{("&" + previous + ";") * 10}">')
        previous = f"lol{i}"
    return '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n' + "\n".join(entities) + "\n]>\n<lolz>&lol9;</lolz>\n"


BILLION_LAUGHS = _billion_laughs()


@pytest.mark.parametrize("prolog_scan", [True, False])
def test_billion_laughs_rejected_fast(monkeypatch: pytest.MonkeyPatch, prolog_scan: bool) -> None:
    if not prolog_scan:
        monkeypatch.setattr(xmlcheck, "_doctype_line", lambda data: None)
    finding = rejected(BILLION_LAUGHS.encode())
    assert "lollollol" not in str(finding)


def test_doctype_only_rejected(no_prolog_scan: None) -> None:
    assert "DOCTYPE" in rejected(b"<!DOCTYPE a>\n<a/>").message


def test_doctype_only_rejected_with_line() -> None:
    assert rejected(b"<!DOCTYPE a>\n<a/>").line == 1
    assert rejected(b'<?xml version="1.0"?>\n<?pi x?>\n\n<!DOCTYPE a>\n<a/>').line == 4


def test_utf16_doctype_rejected() -> None:
    doc = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE a>\n<a/>'
    assert rejected(doc.encode("utf-16")).line == 2


def test_undefined_entity_reference_rejected() -> None:
    finding = rejected(b"<a>\n<b>&foo;</b>\n</a>")
    assert finding.line == 2 and "foo" in finding.message


@pytest.mark.parametrize(
    ("doc", "line"),
    [
        (b'<?xml version="1.0"?>\n<a>\n  <b>\n</a>\n', 4),
        (b"<a>\n<b x='1' x='2'/>\n</a>", 2),
        (b"<a>\n\n\n", 4),
        (b"", 1),
    ],
)
def test_not_well_formed_reports_line(doc: bytes, line: int | None) -> None:
    finding = rejected(doc, "bad.bpmn")
    assert finding.line == line
    assert finding.message.startswith("not well-formed XML")
    assert finding.file == "bad.bpmn"


def test_accepts_comments_pis_boms_and_encodings() -> None:
    body = (
        '<?xml version="1.0" encoding="{enc}"?>\n<!-- é -->\n<?app x?>\n<a id="A">\n  <b id="B">é</b>\n</a>'
    )
    for enc, data in [
        ("UTF-8", body.format(enc="UTF-8").encode()),
        ("UTF-8", b"\xef\xbb\xbf" + body.format(enc="UTF-8").encode()),
        ("UTF-16", body.format(enc="UTF-16").encode("utf-16")),
        ("ISO-8859-1", body.format(enc="ISO-8859-1").encode("latin-1")),
    ]:
        tree = parse_xml("enc.bpmn", data, LIMIT)
        assert tree.getroot().find("b").text == "é", enc
        assert element_lines(tree) == {"A": 4, "B": 5}


def test_doctype_text_inside_cdata_is_not_a_doctype() -> None:
    doc = (
        '<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">\n'
        '<bpmn:scriptTask id="S"><bpmn:script><![CDATA[html = "<!DOCTYPE html><p>&amp;</p>"]]></bpmn:script>'
        "</bpmn:scriptTask>\n</bpmn:definitions>"
    )
    (site,) = script_sites(parse_xml("x.bpmn", doc.encode(), LIMIT))
    assert site.source == 'html = "<!DOCTYPE html><p>&amp;</p>"'


# ------------------------------------------------------------------------------ script sites

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" targetNamespace="urn:t">
  <bpmn:correlationProperty id="CP_1" name="order">
    <bpmn:correlationPropertyRetrievalExpression messageRef="Msg_1">
      <bpmn:formalExpression>order_id  # FORMAL</bpmn:formalExpression>
    </bpmn:correlationPropertyRetrievalExpression>
    <bpmn:correlationPropertyRetrievalExpression messageRef="Msg_2">
      <bpmn:messagePath>payload['order']  # MSGPATH</bpmn:messagePath>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>
  <bpmn:message id="Msg_1" name="m1" />
  <bpmn:signal id="Sig_1" name="s1">
    <bpmn:extensionElements>
      <spiffworkflow:payloadExpression>{'a': a}  # SIGNAL</spiffworkflow:payloadExpression>
    </bpmn:extensionElements>
  </bpmn:signal>
  <bpmn:process id="Proc_1" isExecutable="true">
    <bpmn:correlationSubscription id="Sub_1" correlationKeyRef="Key_1">
      <bpmn:correlationPropertyBinding id="Bind_1" correlationPropertyRef="CP_1">
        <bpmn:dataPath>order_id  # DATAPATH</bpmn:dataPath>
      </bpmn:correlationPropertyBinding>
    </bpmn:correlationSubscription>
    <bpmn:scriptTask id="Script_1" name="Compute">
      <bpmn:script><![CDATA[
x = 1  # SCRIPT
if x < 2 and "&":
    y = x]]></bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="Script_Empty">
      <bpmn:script>   </bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="Approve" camunda:formKey="embedded:app:forms/approve.html">
      <bpmn:extensionElements>
        <spiffworkflow:preScript>before = 1  # PRE</spiffworkflow:preScript>
        <spiffworkflow:postScript>after = 2  # POST</spiffworkflow:postScript>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="approve-schema.json" />
          <spiffworkflow:property name="formUiSchemaFilename" value="approve-uischema.json" />
          <spiffworkflow:property name="other" value="not-a-form.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopCardinality>len(items)  # CARD</bpmn:loopCardinality>
        <bpmn:completionCondition>done  # COMPLETE</bpmn:completionCondition>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:serviceTask id="Provision">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="cloud/CreateVM" resultVariable="vm">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="Approve" type="str" value="'c6.large'" />
            <spiffworkflow:parameter id="region" type="str" value="region  # PARAM" />
            <spiffworkflow:parameter id="unset" type="str" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:standardLoopCharacteristics>
        <bpmn:loopCondition>tries &gt; 3  # LOOP</bpmn:loopCondition>
      </bpmn:standardLoopCharacteristics>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="Flow_Yes" sourceRef="Gw" targetRef="Provision">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">ok == 1  # COND</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_No" sourceRef="Gw" targetRef="End">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"> </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:boundaryEvent id="Timeout" attachedToRef="Provision">
      <bpmn:timerEventDefinition>
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT10M"  # DURATION</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:intermediateCatchEvent id="Wait_Date">
      <bpmn:timerEventDefinition id="TED_1">
        <bpmn:timeDate>deadline  # DATE</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:startEvent id="Start_Cycle">
      <bpmn:timerEventDefinition>
        <bpmn:timeCycle>"R3/PT1H"  # CYCLE</bpmn:timeCycle>
      </bpmn:timerEventDefinition>
    </bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="Wait_Cond">
      <bpmn:conditionalEventDefinition>
        <bpmn:condition xsi:type="bpmn:tFormalExpression">ready  # EVENTCOND</bpmn:condition>
      </bpmn:conditionalEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sendTask id="Send_1" messageRef="Msg_1">
      <bpmn:extensionElements>
        <spiffworkflow:messagePayload>{'order_id': order_id}  # PAYLOAD</spiffworkflow:messagePayload>
        <spiffworkflow:messageVariable>not_code</spiffworkflow:messageVariable>
      </bpmn:extensionElements>
    </bpmn:sendTask>
    <bpmn:receiveTask id="Receive_1" messageRef="Msg_1">
      <bpmn:extensionElements>
        <spiffworkflow:processVariableCorrelation>
          <spiffworkflow:propertyId>order</spiffworkflow:propertyId>
          <spiffworkflow:expression>order_id  # CORREXPR</spiffworkflow:expression>
        </spiffworkflow:processVariableCorrelation>
      </bpmn:extensionElements>
    </bpmn:receiveTask>
    <bpmn:callActivity id="Call_Child" calledElement="child_process" />
    <bpmn:callActivity id="Call_Nothing" />
  </bpmn:process>
</bpmn:definitions>
"""

EXPECTED_SITES = [  # (marker, element_id, kind, mode)
    ("# FORMAL", "CP_1", "messagePath", "eval"),
    ("# MSGPATH", "CP_1", "messagePath", "eval"),
    ("# SIGNAL", "Sig_1", "payloadExpression", "eval"),
    ("# DATAPATH", "Bind_1", "dataPath", "eval"),
    ("# SCRIPT", "Script_1", "script", "exec"),
    ("# PRE", "Approve", "preScript", "exec"),
    ("# POST", "Approve", "postScript", "exec"),
    ("# CARD", "Approve", "cardinality", "eval"),
    ("# COMPLETE", "Approve", "completionCondition", "eval"),
    ("'c6.large'", "Provision", "parameter", "eval"),
    ("# PARAM", "Provision", "parameter", "eval"),
    ("# LOOP", "Provision", "loopCondition", "eval"),
    ("# COND", "Flow_Yes", "condition", "eval"),
    ("# DURATION", "Timeout", "timer", "eval"),
    ("# DATE", "TED_1", "timer", "eval"),
    ("# CYCLE", "Start_Cycle", "timer", "eval"),
    ("# EVENTCOND", "Wait_Cond", "eventCondition", "eval"),
    ("# PAYLOAD", "Send_1", "messagePayload", "eval"),
    ("# CORREXPR", "Receive_1", "correlationExpression", "eval"),
]


@pytest.fixture(scope="module")
def bpmn_tree() -> etree._ElementTree:
    return parse_xml("model.bpmn", BPMN.encode(), LIMIT)


def test_script_sites_cover_every_kind(bpmn_tree: etree._ElementTree) -> None:
    sites = script_sites(bpmn_tree)
    got = [(s.element_id, s.kind, s.mode) for s in sites]
    assert got == [(eid, kind, mode) for _, eid, kind, mode in EXPECTED_SITES]
    for site, (marker, *_rest) in zip(sites, EXPECTED_SITES, strict=True):
        assert marker in site.source
        if site.kind not in ("script", "parameter"):
            assert site.line == line_of(BPMN, marker), site


def test_multiline_cdata_script_source_and_line(bpmn_tree: etree._ElementTree) -> None:
    (script,) = [s for s in script_sites(bpmn_tree) if s.kind == "script"]
    # The text starts right after <bpmn:script> (with the CDATA's newline), unstripped, unescaped.
    assert script.line == line_of(BPMN, "<bpmn:script><![CDATA[")
    assert script.source == '\nx = 1  # SCRIPT\nif x < 2 and "&":\n    y = x'
    compile(script.source, "model.bpmn", script.mode)
    with pytest.raises(SyntaxError) as info:
        compile(script.source.replace("y = x", "y = = x"), "model.bpmn", "exec")
    assert script.line + info.value.lineno - 1 == line_of(BPMN, "y = x]]>")


def test_attribute_sites_use_element_line(bpmn_tree: etree._ElementTree) -> None:
    params = [s for s in script_sites(bpmn_tree) if s.kind == "parameter"]
    assert [(s.source, s.line) for s in params] == [
        ("'c6.large'", line_of(BPMN, "value=\"'c6.large'\"")),
        ("region  # PARAM", line_of(BPMN, "# PARAM")),
    ]


def test_entities_in_code_are_unescaped(bpmn_tree: etree._ElementTree) -> None:
    (loop,) = [s for s in script_sites(bpmn_tree) if s.kind == "loopCondition"]
    assert loop.source == "tries > 3  # LOOP"


def test_sites_are_frozen(bpmn_tree: etree._ElementTree) -> None:
    site = script_sites(bpmn_tree)[0]
    assert isinstance(site, ScriptSite)
    with pytest.raises(AttributeError):
        site.source = "x"  # type: ignore[misc]


def test_element_lines_prefer_model_ids(bpmn_tree: etree._ElementTree) -> None:
    lines = element_lines(bpmn_tree)
    assert lines["Script_1"] == line_of(BPMN, 'id="Script_1"')
    assert lines["Flow_Yes"] == line_of(BPMN, 'id="Flow_Yes"')
    # <spiffworkflow:parameter id="Approve"> must not shadow the user task Approve.
    assert lines["Approve"] == line_of(BPMN, '<bpmn:userTask id="Approve"')
    assert lines["cloud/CreateVM"] == line_of(BPMN, "cloud/CreateVM")  # extension ids still listed
    assert lines["Defs"] == 5  # the start tag spans lines 2-5; libxml2 records where it ends


def test_form_references(bpmn_tree: etree._ElementTree) -> None:
    assert form_references(bpmn_tree) == [
        Reference("Approve", line_of(BPMN, "approve-schema.json"), "approve-schema.json"),
        Reference("Approve", line_of(BPMN, "approve-uischema.json"), "approve-uischema.json"),
    ]  # camunda:formKey is not a form file and is not reported


def test_operator_references(bpmn_tree: etree._ElementTree) -> None:
    assert operator_references(bpmn_tree) == [
        Reference("Provision", line_of(BPMN, "cloud/CreateVM"), "cloud/CreateVM")
    ]


def test_called_process_ids(bpmn_tree: etree._ElementTree) -> None:
    assert called_process_ids(bpmn_tree) == [
        Reference("Call_Child", line_of(BPMN, "Call_Child"), "child_process")
    ]


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="Defs_D" name="D" namespace="urn:d">
  <decision id="level" name="Approval level">
    <decisionTable id="Table_1" hitPolicy="FIRST">
      <input id="In_1" label="Amount">
        <inputExpression id="InExpr_1" typeRef="number">
          <text>amount  # INPUT</text>
        </inputExpression>
      </input>
      <output id="Out_1" name="level" typeRef="string" />
      <rule id="Rule_1">
        <description>big</description>
        <inputEntry id="Entry_1">
          <text>&gt; 1000  # ENTRY</text>
        </inputEntry>
        <outputEntry id="Result_1">
          <text>"director"  # OUTPUT</text>
        </outputEntry>
      </rule>
      <rule id="Rule_2">
        <inputEntry id="Entry_2"><text>-</text></inputEntry>
        <outputEntry id="Result_2"><text></text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""


def test_dmn_sites() -> None:
    tree = parse_xml("rules.dmn", DMN.encode(), LIMIT)
    sites = script_sites(tree)
    assert [(s.element_id, s.kind, s.mode, s.line) for s in sites] == [
        ("InExpr_1", "dmnInput", "eval", line_of(DMN, "# INPUT")),
        ("Entry_1", "dmnInputEntry", "eval", line_of(DMN, "# ENTRY")),
        ("Result_1", "dmnOutputEntry", "eval", line_of(DMN, "# OUTPUT")),
    ]
    assert sites[1].source == "> 1000  # ENTRY"  # raw unary test, for the consumer to rewrite
    assert xsd_findings("rules.dmn", tree) == []


def test_dmn_12_and_11_namespaces() -> None:
    for ns in (xmlcheck.DMN12_NS, xmlcheck.DMN11_NS):
        tree = parse_xml("r.dmn", DMN.replace(xmlcheck.DMN13_NS, ns).encode(), LIMIT)
        assert [s.kind for s in script_sites(tree)] == ["dmnInput", "dmnInputEntry", "dmnOutputEntry"]


# ------------------------------------------------------------------------------ XSD

VALID_SPIFF = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs" targetNamespace="urn:t">
  <bpmn:correlationProperty id="CP" name="cp">
    <bpmn:correlationPropertyRetrievalExpression messageRef="M">
      <bpmn:formalExpression>order_id</bpmn:formalExpression>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>
  <bpmn:message id="M" name="m" />
  <bpmn:process id="P" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Svc"{extra}>
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="cloud/CreateVM" resultVariable="vm">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="flavor" type="str" value="'c6.large'" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
        <spiffworkflow:preScript>a = 1</spiffworkflow:preScript>
      </bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming>
      <bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Svc" />
    <bpmn:sequenceFlow id="F2" sourceRef="Svc" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_xsd_valid_spiff_file_has_no_findings() -> None:
    tree = parse_xml("ok.bpmn", VALID_SPIFF.format(extra="").encode(), LIMIT)
    assert xsd_findings("ok.bpmn", tree) == []
    # SpiffWorkflow's bpmn-js fix-up happens on a copy: the caller's tree is untouched.
    assert tree.getroot().find(".//{*}formalExpression") is not None


def test_xsd_unknown_attribute_has_line_and_id() -> None:
    text = VALID_SPIFF.format(extra=' bogus="1"')
    (finding,) = xsd_findings("bad.bpmn", parse_xml("bad.bpmn", text.encode(), LIMIT))
    assert finding.line == line_of(text, 'bogus="1"')
    assert finding.element_id == "Svc"
    assert "bogus" in finding.message and "bpmn:serviceTask" in finding.message
    assert str(finding).startswith(f"bad.bpmn:{finding.line} [Svc]: ")


def test_xsd_unknown_child_points_at_enclosing_id() -> None:
    text = VALID_SPIFF.format(extra="").replace("<bpmn:incoming>F1", "<bpmn:wrong/><bpmn:incoming>F1")
    findings = xsd_findings("bad.bpmn", parse_xml("bad.bpmn", text.encode(), LIMIT))
    assert [(f.line, f.element_id) for f in findings] == [(line_of(text, "<bpmn:wrong/>"), "Svc")]


def test_xsd_foreign_root_is_one_warning() -> None:
    (finding,) = xsd_findings("x.xml", parse_xml("x.xml", b'<x:root xmlns:x="urn:x" id="r"/>', LIMIT))
    assert finding.line == 1 and "not validated" in finding.message
