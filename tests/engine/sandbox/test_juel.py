"""JUEL (Camunda 7 expressions) compiles to Python the sandbox checks and runs; escapes are refused
at deploy, and nothing of JUEL is evaluated any other way."""

from __future__ import annotations

from decimal import Decimal

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

from engine.sandbox import SandboxEnvironment, ScriptLimitExceeded, check_source
from engine.spiff import juel
from engine.spiff.juel import JuelUnsupported, to_python
from engine.spiff.script_engine import AicmpScriptEngine
from engine.validation import validate_files


def run(expression: str, **data: object) -> object:
    """Evaluate as the script engine does: compile, then the sandbox with the JUEL helpers."""
    return SandboxEnvironment().evaluate(to_python(expression), data, juel.helpers(data))


@pytest.mark.parametrize(("expression", "data", "value"), [
    ("${approved}", {"approved": True}, True),
    ("#{!approved}", {"approved": True}, False),
    ("${not approved}", {"approved": False}, True),
    ("${order.total > 100}", {"order": {"total": 150}}, True),
    ("${order['total'] ge 150 && order.lines[0].qty eq 2}", {"order": {"total": 150, "lines": [{"qty": 2}]}}, True),
    ("${a == 1 || b != 'x'}", {"a": 2, "b": "x"}, False),
    ("${a lt b and b le 3 and c gt 1 and c ge 2}", {"a": 1, "b": 3, "c": 2}, True),
    ("${score <= 5}", {"score": 5}, True),
    ("${empty name}", {"name": ""}, True),
    ("${empty items}", {"items": [1]}, False),
    ("${empty n}", {"n": 0}, False),
    ("${not empty x}", {"x": None}, False),
    ("${(a + b) * 2 - c / 4}", {"a": 1, "b": 2, "c": 8}, 4.0),
    ("${a div 2 + a mod 3 - -1}", {"a": 7}, 5.5),
    ("${price * qty}", {"price": Decimal("2.50"), "qty": 3}, Decimal("7.50")),
    ("${big ? 'large' : \"small\"}", {"big": False}, "small"),
    ("${x > 1 ? y > 1 ? 'both' : 'x' : 'none'}", {"x": 2, "y": 0}, "x"),
    ("${execution.getVariable('x')}", {"x": 5}, 5),
    ("${execution.getVariable('missing') == null}", {}, True),
    ("${true && !false}", {}, True),
    ("${'it\\'s'}", {}, "it's"),
    ("${1.5e2}", {}, 150.0),
    ("PT${minutes}M", {"minutes": 5}, "PT5M"),
    ("Hello ${who}, ${ok}${none}", {"who": "Ann", "ok": True, "none": None}, "Hello Ann, true"),
    ("${a.b}", {"a": {"b": "}"}}, "}"),
])
def test_the_subset_evaluates_in_the_sandbox(expression: str, data: dict, value: object) -> None:
    assert run(expression, **data) == value


@pytest.mark.parametrize(("expression", "named"), [
    ("${''.getClass()}", "getClass"),
    ("${x.getClass().forName('java.lang.Runtime')}", "getClass"),
    ("${x.__class__}", "__class__"),
    ("${x.__class__.__base__.__subclasses__()}", "__class__"),
    ("${__import__}", "__import__"),
    ("${_secret}", "_secret"),
    ("${x.toLowerCase().getClass()}", "getClass"),
    ("${s.format('%s')}", "s.format"),
    ("${s.substring(0, 1, 2, 3)}", "more than 3 arguments"),
    ("${myBean.approve(execution)}", "myBean.approve"),
    ("${fn:contains(a, b)}", "':'"),
    ("${x = 1}", "'='"),
    ("${() -> 1}", "')'"),
    ("${execution.setVariable('a', 1)}", "setVariable"),
    ("${execution.getVariable(name)}", "getVariable takes one variable name"),
    ("${execution.getVariable('__class__')}", "__class__"),
    ("${lambda}", "lambda"),
    ("${import}", "import"),
    ("${9" + "9" * 40 + "}", "number literal"),
    ("${a", "closing"),
    ("${a b}", "'b'"),
    ("${a ? b}", "ends too early"),
])
def test_anything_outside_the_subset_is_refused_naming_it(expression: str, named: str) -> None:
    with pytest.raises(JuelUnsupported) as info:
        to_python(expression)
    assert named in str(info.value)


@pytest.mark.parametrize(("expression", "data", "value"), [
    ("${userId.toLowerCase() == 'joram' || userId.toLowerCase() == 'tijs'}", {"userId": "Tijs"}, True),
    ("${name.trim().toUpperCase()}", {"name": "  ann "}, "ANN"),
    ("${code.startsWith('GPU') && !code.endsWith('-old') && code.length() == 8}", {"code": "GPU-A100"}, True),
    ("${a.equalsIgnoreCase('YES') and a.equals('yes')}", {"a": "yes"}, True),
    ("${s.substring(1, 3)}${s.substring(3)}", {"s": "abcde"}, "bcde"),
    ("${s.contains('cd') && items.contains(2) && !items.isEmpty() && items.size() == 2}",
     {"s": "abcde", "items": [1, 2]}, True),
    ("${m.containsKey('k') ? m.get('k') : m.get('other')}", {"m": {"k": 5}}, 5),
    ("${m.get('missing') == null && items.get(1) == 'b'}", {"m": {}, "items": ["a", "b"]}, True),
    ("${customer.prop(\"age\").numberValue() >= 21}", {"customer": {"age": 34}}, True),
    ("${customer.hasProp('vip') ? customer.prop('vip').boolValue() : false}", {"customer": {"vip": True}}, True),
    ("${customer.prop('name').stringValue()} ${customer.prop('tags').elements().size()}",
     {"customer": {"name": "Ann", "tags": ["a", "b"]}}, "Ann 2"),
    ("${order.prop('note').isNull()}", {"order": {"note": None}}, True),
])
def test_value_methods_evaluate_on_plain_data(expression: str, data: dict, value: object) -> None:
    assert run(expression, **data) == value


@pytest.mark.parametrize(("expression", "data", "error"), [
    ("${n.toLowerCase()}", {"n": 5}, TypeError),  # a text method on a number, as Java would refuse
    ("${items.size()}", {"items": 5}, TypeError),
    ("${flag.numberValue()}", {"flag": True}, TypeError),  # a boolean is not a Spin number
    ("${customer.prop('age')}", {"customer": {}}, KeyError),
    ("${customer.prop('age')}", {"customer": "text"}, TypeError),
    ("${s.substring(-2)}", {"s": "abc"}, IndexError),  # Java refuses what Python would wrap
    ("${s.substring(2, 1)}", {"s": "abc"}, IndexError),
    ("${items.get(-1)}", {"items": [1]}, IndexError),
])
def test_a_value_method_on_the_wrong_value_fails_the_evaluation(expression: str, data: dict,
                                                                  error: type[Exception]) -> None:
    with pytest.raises(error):
        run(expression, **data)


def test_value_methods_return_data_never_objects_with_attributes() -> None:
    """Every method returns plain data, so a chained property is still a dictionary key (``x.y`` on
    a text fails), never an attribute of a Python object."""
    with pytest.raises(TypeError):
        run("${s.toLowerCase().upper}", s="A")
    assert set(juel.METHODS) >= {"toLowerCase", "prop", "numberValue", "contains"}
    assert all(not name.startswith("_") for name in juel.METHODS)


def test_compiled_expressions_pass_the_sandbox_policy() -> None:
    for expression in ("${approved}", "PT${m}M", "${execution.getVariable('x') + 1}", "${empty a ? 1 : 2}",
                       "${customer.prop('age').numberValue() < 21}", "${s.substring(1, 2).toLowerCase()}"):
        assert check_source(to_python(expression), "eval") == [], expression


def test_item_access_with_a_dunder_key_reads_data_not_attributes() -> None:
    """``x['__class__']`` is a dictionary key, never an attribute; on a string the sandbox's item
    guard refuses it."""
    assert run("${x['__class__']}", x={"__class__": 1}) == 1
    with pytest.raises(Exception):  # noqa: B017 - str indices must be integers
        run("${x['__class__']}", x="text")


def test_the_sandbox_bounds_still_apply() -> None:
    """JUEL has no power operator; string and list multiplication stay bounded by the sandbox."""
    with pytest.raises(ScriptLimitExceeded):
        run("${s * n}", s="x" * 1000, n=10 ** 7)
    with pytest.raises(ScriptLimitExceeded):
        run("${a * n}", a=[0] * 1000, n=10 ** 7)


def test_an_unknown_variable_fails_as_in_camunda() -> None:
    with pytest.raises(NameError):
        run("${nobody}")


def _process(condition: str, *, timer: str = "") -> bytes:
    timer_xml = (f'<bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f0</bpmn:incoming>'
                 f'<bpmn:outgoing>f1</bpmn:outgoing><bpmn:timerEventDefinition id="td">'
                 f'<bpmn:timeDuration>{timer}</bpmn:timeDuration></bpmn:timerEventDefinition>'
                 f'</bpmn:intermediateCatchEvent>' if timer else
                 '<bpmn:exclusiveGateway id="wait"><bpmn:incoming>f0</bpmn:incoming>'
                 '<bpmn:outgoing>f1</bpmn:outgoing></bpmn:exclusiveGateway>')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="wait"/>
    {timer_xml}
    <bpmn:sequenceFlow id="f1" sourceRef="wait" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="no"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>yes</bpmn:outgoing><bpmn:outgoing>no</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="yes" sourceRef="gw" targetRef="end_yes">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="no" sourceRef="gw" targetRef="end_no"/>
    <bpmn:endEvent id="end_yes"><bpmn:incoming>yes</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_no"><bpmn:incoming>no</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>""".encode()


@pytest.mark.parametrize(("condition", "message"), [
    ("${''.getClass()}", "JUEL outside the supported subset: the method call ''.getClass(...)"),
    ("${x.__class__}", "JUEL outside the supported subset: the property '__class__'"),
    ("#{bean.run(execution)}", "JUEL outside the supported subset: the method call bean.run(...)"),
])
def test_an_escape_through_juel_is_refused_at_deploy_with_element_and_line(condition: str, message: str) -> None:
    bpmn = _process(condition.replace("'", "&apos;"))
    checked = validate_files({"p.bpmn": bpmn}, max_bytes=1_000_000)
    assert not checked.ok
    [error] = checked.errors
    line = bpmn[:bpmn.index(b"<bpmn:conditionExpression")].count(b"\n") + 1
    assert error.element_id == "yes" and error.line == line
    assert error.message.startswith("condition: " + message)


@pytest.mark.parametrize(("data", "end"), [({"order": {"total": 150}}, "end_yes"), ({"order": {"total": 5}}, "end_no")])
def test_a_juel_condition_deploys_and_routes(data: dict, end: str) -> None:
    checked = validate_files({"p.bpmn": _process("${order.total &gt; 100}")}, max_bytes=1_000_000)
    assert checked.ok, checked.errors
    [process] = checked.processes
    wf = BpmnWorkflow(process.spec, script_engine=AicmpScriptEngine())
    wf.get_tasks()[0].data.update(data)
    wf.do_engine_steps()
    assert wf.is_completed()
    assert end in [t.task_spec.bpmn_id for t in wf.get_tasks() if t.task_spec.bpmn_id]


def test_a_juel_condition_on_missing_data_fails_the_step_naming_the_expression() -> None:
    checked = validate_files({"p.bpmn": _process("${approved}")}, max_bytes=1_000_000)
    [process] = checked.processes
    wf = BpmnWorkflow(process.spec, script_engine=AicmpScriptEngine())
    with pytest.raises(WorkflowTaskException) as info:
        wf.do_engine_steps()
    assert "approved" in str(info.value)


def _mapped(parameters: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="m" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="work"/>
    <bpmn:scriptTask id="work">
      <bpmn:extensionElements>
        <camunda:inputOutput>{parameters}</camunda:inputOutput>
      </bpmn:extensionElements>
      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:script>seen = 1</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f1" sourceRef="work" targetRef="end"/>
    <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>""".encode()


@pytest.mark.parametrize(("parameters", "message"), [
    ('<camunda:inputParameter name="x">${"".getClass()}</camunda:inputParameter>',
     "parameter 'x': JUEL outside the supported subset: the method call \"\".getClass(...)"),
    ('<camunda:outputParameter name="y">${a.__dict__}</camunda:outputParameter>',
     "parameter 'y': JUEL outside the supported subset: the property '__dict__'"),
    ('<camunda:inputParameter name="s"><camunda:script scriptFormat="groovy">1</camunda:script>'
     '</camunda:inputParameter>', "parameter 's': a camunda:script value is not supported"),
    ('<camunda:inputParameter name="m"><camunda:map/></camunda:inputParameter>',
     "parameter 'm': a camunda:map value is not supported"),
    ('<camunda:inputParameter name="Fact.type"/>', "parameter 'Fact.type': not a variable name"),
    ('<camunda:inputParameter name="__class__">1</camunda:inputParameter>', "parameter '__class__': not a variable"),
])
def test_unsupported_input_output_mappings_are_refused_at_deploy(parameters: str, message: str) -> None:
    checked = validate_files({"m.bpmn": _mapped(parameters)}, max_bytes=1_000_000)
    [error] = checked.errors
    assert error.element_id == "work" and error.line == 9
    assert error.message.startswith("camunda:inputOutput: " + message), error.message


def test_input_output_mappings_run_in_the_sandbox_before_and_after_the_task() -> None:
    checked = validate_files({"m.bpmn": _mapped(
        '<camunda:inputParameter name="total">${price * qty}</camunda:inputParameter>'
        '<camunda:inputParameter name="note">for ${who}</camunda:inputParameter>'
        '<camunda:inputParameter name="nothing"/>'
        '<camunda:outputParameter name="big">${total gt 10 and seen == 1}</camunda:outputParameter>')},
        max_bytes=1_000_000)
    assert checked.ok, checked.errors
    [process] = checked.processes
    wf = BpmnWorkflow(process.spec, script_engine=AicmpScriptEngine())
    wf.get_tasks()[0].data.update({"price": Decimal("2.5"), "qty": 6, "who": "Ann"})
    wf.do_engine_steps()
    assert wf.is_completed()
    assert {k: wf.data[k] for k in ("total", "note", "nothing", "big")} == {
        "total": Decimal("15.0"), "note": "for Ann", "nothing": None, "big": True}
