"""Forms: per-field validation errors, defaults, prefill, loading from a deployment, simulate."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from engine import forms
from engine.designer import simulate_file
from engine.models import ProcessDefinition
from tests.helpers import DATA, read

SUBMIT = json.loads(read("inbox_submit-schema.json"))


def paths(schema, data) -> list[str]:
    return [p["path"] for p in forms.validate(schema, data)]


def test_valid_data_has_no_problems():
    assert forms.validate(SUBMIT, {"amount": 12, "purpose": "taxi", "currency": "USD",
                                   "receipts": [{"date": "2026-03-01", "note": "x"}]}) == []
    assert forms.validate(None, {"anything": 1}) == []  # no form: nothing to check


def test_each_failing_field_is_named_by_its_json_path():
    problems = forms.validate(SUBMIT, {"amount": "12", "purpose": "ab", "receipts": [{"note": 3}]})
    assert [(p["path"], p["keyword"]) for p in problems] == [
        ("$.amount", "type"), ("$.purpose", "minLength"), ("$.receipts[0].date", "required"),
        ("$.receipts[0].note", "type")]
    assert problems[2]["message"] == "is required"
    assert "'12' is not of type 'number'" in problems[0]["message"]


def test_unknown_fields_are_refused_unless_the_schema_opens_them():
    assert paths(SUBMIT, {"amount": 1, "purpose": "abc", "lane_owners": {"approver": ["me"]}}) == ["$.lane_owners"]
    opened = {**SUBMIT, "additionalProperties": True}
    assert paths(opened, {"amount": 1, "purpose": "abc", "extra": 1}) == []
    closed = {"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {}},
                                                     "additionalProperties": False}}}
    assert paths(closed, {"a": {"b": 1, "c": 2, "odd key": 3}}) == ["$.a.c", "$.a['odd key']"]


def test_data_must_be_an_object_and_formats_are_checked():
    assert paths(SUBMIT, ["amount"]) == ["$"]
    assert paths(SUBMIT, {"amount": 1, "purpose": "abc", "receipts": [{"date": "31/02/2026"}]}) == [
        "$.receipts[0].date"]


def test_engine_values_validate_like_json_numbers_and_text():
    integer = {"type": "object", "properties": {"n": {"type": "integer"}, "d": {"type": "string", "format": "date"},
                                                "x": {"type": "number", "maximum": 1}}}
    assert forms.validate(integer, {"n": Decimal("5"), "d": date(2026, 1, 2), "x": Decimal("0.5")}) == []
    assert paths(integer, {"n": Decimal("5.5"), "x": Decimal("Infinity")}) == ["$.n", "$.x"]


def test_json_path_quotes_odd_keys():
    assert forms.json_path([]) == "$"
    assert forms.json_path(["a", 0, "b c", "it's"]) == "$.a[0]['b c']['it\\'s']"


def test_defaults_and_prefill_keep_to_the_form():
    assert forms.defaults(SUBMIT) == {"currency": "EUR"}
    nested = {"properties": {"o": {"type": "object", "properties": {"k": {"default": 1}}}, "p": {}}}
    assert forms.defaults(nested) == {"o": {"k": 1}}
    assert forms.prefill(SUBMIT, {"amount": 3, "currency": "USD", "secret": "x"}) == {"amount": 3, "currency": "USD"}
    assert forms.prefill(None, {"secret": "x"}) == {}


def test_forms_load_from_the_definition_deployment(engine):
    engine.registry.deploy({"inbox_expense.bpmn": read("inbox_expense.bpmn"),
                            "inbox_submit-schema.json": read("inbox_submit-schema.json"),
                            "inbox_submit-uischema.json": read("inbox_submit-uischema.json"),
                            "inbox_approve-schema.json": read("inbox_approve-schema.json")})
    with engine.db.read() as s:
        definition_id = s.query(ProcessDefinition.id).scalar()
        schema, ui = forms.load_task_forms(s, definition_id, "inbox_submit-schema.json", "inbox_submit-uischema.json")
        assert schema == SUBMIT and ui["purpose"] == {"ui:widget": "textarea"}
        assert forms.load_task_forms(s, definition_id, "inbox_approve-schema.json", None)[1] is None
        assert forms.load_task_forms(s, definition_id, None, None) == (None, None)
        assert forms.load_task_forms(s, definition_id + 99, "inbox_submit-schema.json", None) == (None, None)


def test_simulate_completes_user_tasks_with_form_defaults():
    report, result = simulate_file(DATA / "inbox_expense.bpmn", max_bytes=1_000_000,
                                   task_data={"submit": {"amount": 10, "purpose": "taxi"},
                                              "approve": {"decision": "approve"}})
    assert report.ok and result is not None and result.completed, (report.errors, result)
    assert result.path[:4] == ["start", "Submit claim", "Approve claim", "Approved?"]
    assert result.data["currency"] == "EUR"  # the submit form's default
