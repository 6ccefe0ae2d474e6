"""The README's Camunda 7 example (tests/conformance/data/camunda7_invoice.bpmn), as drawn in
Camunda Modeler, deploys unchanged and runs: JUEL conditions, ISO 8601 timer literals, form
fields as JSON Schema, candidate groups in the inbox, an external-task topic as the operator."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.designer import simulate_file
from engine.errors import InvalidInput
from engine.models import DueTimer, Job, ProcessInstance
from engine.spiff import camunda
from engine.timers import fire_due_timers
from tests.helpers import T0

EXAMPLE = Path(__file__).with_name("data") / "camunda7_invoice.bpmn"
FILES = {EXAMPLE.name: EXAMPLE.read_bytes()}


def test_it_deploys_unchanged_with_the_unregistered_operator_as_a_warning(engine):
    result = engine.registry.deploy(FILES)
    assert [(d.key, d.version) for d in result.definitions] == [("camunda7_invoice", 1)]
    assert [str(w) for w in result.warnings] == [
        "camunda7_invoice.bpmn:74 [pay]: operator 'invoice/pay' is not registered"]


def test_its_form_fields_become_a_json_schema():
    [process] = engine_processes()
    approve = process.spec.task_specs["approve"]
    assert camunda.form_schema(approve) == {"type": "object", "properties": {
        "approved": {"type": "boolean", "title": "Approved?"},
        "category": {"type": "string", "title": "Category", "enum": ["goods", "services"],
                     "enumNames": ["Goods", "Services"], "default": "goods"}}}
    assert camunda.form_schema(process.spec.task_specs["received"]) == {
        "type": "object", "required": ["amount"], "properties": {
            "amount": {"type": "integer", "title": "Amount", "default": 0},
            "creditor": {"type": "string", "title": "Creditor"}}}


def engine_processes():
    from engine.validation import validate_files

    checked = validate_files(FILES, max_bytes=1_000_000)
    assert checked.ok, checked.errors
    return checked.processes


@pytest.mark.parametrize(("data", "approved", "path"), [
    ({"amount": 5000, "creditor": "ACME"}, None, ["Approve invoice", "Approved?", "Rejected"]),
    ({"amount": 5000, "creditor": "ACME"}, True, ["Approve invoice", "Approved?", "Large?", "Wait 5 minutes",
                                                  "Pay invoice", "Paid"]),
    ({"amount": 5000, "creditor": ""}, True, ["Approve invoice", "Approved?", "Large?", "Pay invoice", "Paid"]),
    ({"amount": 50, "creditor": "ACME"}, True, ["Approve invoice", "Approved?", "Large?", "Pay invoice", "Paid"]),
])
def test_it_simulates_along_its_juel_conditions(data, approved, path):
    """An untouched Camunda form submits every field (the check box as false): rejected."""
    task_data = {"approve": {"approved": approved}} if approved is not None else None
    report, result = simulate_file(EXAMPLE, max_bytes=1_000_000, data=data, task_data=task_data)
    assert report.ok and result.completed, result.problem
    assert result.path[1:] == path
    assert result.data["label"] == f"{data['creditor']}: {data['amount']} CNY"  # camunda:inputOutput
    assert result.data["channel"] == "tasklist"
    assert result.data["decision"] == ("approved" if approved else "rejected")


def test_an_instance_offers_the_task_to_its_candidate_group_and_escalates_after_48_hours(engine, frozen):
    engine.registry.deploy(FILES)
    inst = engine.runtime.start("camunda7_invoice", tenant_id="t-alpha", initiator="alice",
                                variables={"amount": 5000, "creditor": "ACME"})
    assert inst.status == "running"
    assert engine.inbox.list_tasks("t-alpha", "alice").items == []  # not the initiator's: accounting's
    [task] = engine.inbox.list_tasks("t-alpha", "bob", ["accounting"]).items
    assert task.task_spec == "approve" and task.due_at == T0 + timedelta(hours=48)
    assert engine.inbox.list_tasks("t-beta", "bob", ["accounting"]).items == []  # another tenant sees nothing
    with engine.db.read() as s:
        [due] = s.scalars(select(DueTimer).where(DueTimer.instance_id == inst.id)).all()
    assert due.due_at.replace(tzinfo=due.due_at.tzinfo or T0.tzinfo) == T0 + timedelta(hours=48)
    frozen.advance(timedelta(hours=48, seconds=1))
    assert fire_due_timers(engine, "w1") == 1
    assert engine.inbox.list_tasks("t-alpha", "bob", ["accounting"]).items == []
    with engine.db.read() as s:
        assert s.get(ProcessInstance, inst.id).status == "completed"  # the escalation end


@pytest.mark.parametrize("async_before", [False, True])
def test_async_before_sends_the_operator_down_the_job_path(engine, operators, async_before):
    paid = []
    operators.operator("invoice/pay")(lambda: paid.append(1) or {"paid": True})  # registered inline
    bpmn = FILES[EXAMPLE.name]
    if async_before:
        bpmn = bpmn.replace(b'camunda:topic="invoice/pay"', b'camunda:topic="invoice/pay" camunda:asyncBefore="true"')
    result = engine.registry.deploy({EXAMPLE.name: bpmn})
    assert result.warnings == []  # the operator is registered now
    inst = engine.runtime.start("camunda7_invoice", tenant_id="t-alpha", initiator="alice",
                                variables={"amount": 50, "creditor": "ACME"})
    [task] = engine.inbox.list_tasks("t-alpha", "bob", ["accounting"]).items
    engine.inbox.complete("t-alpha", task.id, user="bob", roles=["accounting"],
                          data={"approved": True, "category": "goods"})
    with engine.db.read() as s:
        assert s.get(ProcessInstance, inst.id).status == "completed"
        jobs = s.scalars(select(Job).where(Job.instance_id == inst.id)).all()
    assert paid == [1]
    assert [(j.operator, j.status) for j in jobs] == ([("invoice/pay", "done")] if async_before else [])


@pytest.mark.parametrize(("variables", "sees", "blind"), [
    ({"owner": "erin"}, ["erin"], ["carol", "dave", "alice"]),  # assigned: only the assignee
    ({}, ["carol", "dave"], ["erin", "alice"]),  # ${owner} unset: the candidate users
])
def test_assignee_and_candidate_users_decide_who_sees_the_task(engine, variables, sees, blind):
    bpmn = FILES[EXAMPLE.name].replace(b'camunda:candidateGroups="accounting"',
                                       b'camunda:assignee="${owner}" camunda:candidateUsers="carol, dave"')
    engine.registry.deploy({EXAMPLE.name: bpmn})
    engine.runtime.start("camunda7_invoice", tenant_id="t-alpha", initiator="alice",
                         variables={"amount": 1, "creditor": "ACME", **variables})
    for user in sees:
        assert [t.task_spec for t in engine.inbox.list_tasks("t-alpha", user).items] == ["approve"], user
    for user in blind:
        assert engine.inbox.list_tasks("t-alpha", user, ["accounting"]).items == [], user


def test_the_inbox_serves_the_drawn_form_and_checks_the_answer_against_it(engine):
    engine.registry.deploy(FILES)
    engine.runtime.start("camunda7_invoice", tenant_id="t-alpha", initiator="alice",
                         variables={"amount": 1, "creditor": "ACME"})
    [task] = engine.inbox.list_tasks("t-alpha", "bob", ["accounting"]).items
    detail = engine.inbox.get_task("t-alpha", task.id, user="bob", roles=["accounting"])
    assert detail.schema["properties"]["approved"] == {"type": "boolean", "title": "Approved?"}
    with pytest.raises(InvalidInput) as info:
        engine.inbox.complete("t-alpha", task.id, user="bob", roles=["accounting"],
                              data={"approved": "yes", "category": "goods"})
    assert info.value.errors[0]["path"] == "$.approved"
    with pytest.raises(InvalidInput):
        engine.inbox.complete("t-alpha", task.id, user="bob", roles=["accounting"], data={"category": "gold"})
    engine.inbox.complete("t-alpha", task.id, user="bob", roles=["accounting"], data={"approved": False})
    assert engine.inbox.list_tasks("t-alpha", "bob", ["accounting"]).items == []
