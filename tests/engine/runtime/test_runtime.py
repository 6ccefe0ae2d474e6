"""Runtime: start, complete, history, operators, incidents, call-activity binding, data round-trip."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.errors import Conflict, NotFound
from engine.models import Incident, ProcessInstance, TaskHistory
from tasks.registry import OperatorError
from tests.helpers import read

APPROVAL = {"approval.bpmn": read("approval.bpmn"), "review-schema.json": read("review-schema.json"),
            "review-uischema.json": read("review-uischema.json")}


def ready_tasks(engine, instance_id: str) -> list:
    with engine.db.read() as s:
        row = s.get(ProcessInstance, instance_id)
        loaded = engine.runtime.load(s, row)
        return [(str(t.id), t.task_spec.bpmn_id) for t in loaded.workflow.get_tasks(state=TaskState.READY, manual=True)]


def workflow_data(engine, instance_id: str) -> dict:
    with engine.db.read() as s:
        loaded = engine.runtime.load(s, s.get(ProcessInstance, instance_id))
        return loaded.workflow.data


def history(engine, instance_id: str) -> list[tuple[str, str, str | None]]:
    with engine.db.read() as s:
        rows = s.scalars(select(TaskHistory).where(TaskHistory.instance_id == instance_id).order_by(TaskHistory.id))
        return [(r.task_spec, r.state, r.actor) for r in rows]


def test_approval_runs_to_the_end_with_exact_money_and_dates(any_engine):
    any_engine.registry.deploy(APPROVAL)
    inst = any_engine.runtime.start("approval", tenant_id="t-alpha", initiator="alpha-user",
                                    business_key="APP-1", variables={"amount": Decimal("100.50")})
    assert inst.status == "running"
    [(guid, spec)] = ready_tasks(any_engine, inst.id)
    assert spec == "review"

    done = any_engine.runtime.complete_task(inst.id, guid, {"decision": "approve"}, actor="alpha-approver",
                                            tenant_id="t-alpha")
    assert done.status == "completed" and done.ended_at is not None
    data = workflow_data(any_engine, inst.id)
    assert data["total"] == Decimal("106.5300") and isinstance(data["total"], Decimal)
    assert data["approved_on"] == date(2026, 11, 28)
    rows = history(any_engine, inst.id)
    assert ("review", "READY", "alpha-user") in rows  # who caused it: the initiator starting it
    assert ("review", "COMPLETED", "alpha-approver") in rows
    assert ("record", "COMPLETED", None) in rows
    assert ("end_ok", "COMPLETED", None) in rows
    with any_engine.db.read() as s:
        completed = s.scalars(select(TaskHistory).where(TaskHistory.task_spec == "review",
                                                        TaskHistory.state == "COMPLETED")).one()
        assert completed.data_changed == {"decision": "approve"}


def test_completing_a_task_twice_is_a_conflict_and_applies_once(engine):
    engine.registry.deploy(APPROVAL)
    inst = engine.runtime.start("approval", tenant_id="t-alpha", variables={"amount": 1})
    [(guid, _)] = ready_tasks(engine, inst.id)
    engine.runtime.complete_task(inst.id, guid, {"decision": "reject"}, actor="a")
    with pytest.raises(Conflict):
        engine.runtime.complete_task(inst.id, guid, {"decision": "approve"}, actor="b")
    assert [r for r in history(engine, inst.id) if r[:2] == ("review", "COMPLETED")] == [("review", "COMPLETED", "a")]
    assert "total" not in workflow_data(engine, inst.id)


def test_another_tenant_cannot_touch_the_instance(engine):
    engine.registry.deploy(APPROVAL)
    inst = engine.runtime.start("approval", tenant_id="t-alpha", variables={"amount": 1})
    [(guid, _)] = ready_tasks(engine, inst.id)
    with pytest.raises(NotFound):
        engine.runtime.complete_task(inst.id, guid, {"decision": "approve"}, actor="x", tenant_id="t-beta")
    with pytest.raises(NotFound):
        engine.runtime.cancel(inst.id, actor="x", tenant_id="t-beta")


def test_data_that_spiff_cannot_restore_alone_round_trips(engine):
    engine.registry.deploy(APPROVAL)
    tricky = {"amount": Decimal("0.1"), "meta": {"typename": "UserTask", "nested": [{"typename": "UUID", "v": 1}]},
              "when": date(2026, 1, 31)}
    inst = engine.runtime.start("approval", tenant_id="t-alpha", variables=tricky)
    [(guid, _)] = ready_tasks(engine, inst.id)
    engine.runtime.complete_task(inst.id, guid, {"decision": "reject", "extra": {"typename": "x"}}, actor="a")
    data = workflow_data(engine, inst.id)
    assert data["meta"] == tricky["meta"] and data["when"] == tricky["when"] and data["amount"] == Decimal("0.1")
    assert data["extra"] == {"typename": "x"}


def test_suspend_blocks_work_until_resume_and_cancel_ends_it(engine):
    engine.registry.deploy(APPROVAL)
    inst = engine.runtime.start("approval", tenant_id="t-alpha", variables={"amount": 1})
    [(guid, _)] = ready_tasks(engine, inst.id)
    assert engine.runtime.suspend(inst.id, actor="op").status == "suspended"
    with pytest.raises(Conflict):
        engine.runtime.complete_task(inst.id, guid, {"decision": "approve"}, actor="a")
    assert engine.runtime.resume(inst.id, actor="op").status == "running"
    cancelled = engine.runtime.cancel(inst.id, actor="op")
    assert cancelled.status == "cancelled" and cancelled.ended_at is not None
    assert ("review", "CANCELLED", "op") in history(engine, inst.id)
    with pytest.raises(Conflict):
        engine.runtime.cancel(inst.id, actor="op")


def test_inline_operator_result_lands_in_the_result_variable(engine, operators):
    operators.operator("test/echo")(lambda value, mode: {"value": value, "mode": mode})
    engine.registry.deploy({"service.bpmn": read("service.bpmn")})
    inst = engine.runtime.start("service_flow", tenant_id="t-alpha", variables={"amount": 21, "mode": "x"})
    assert inst.status == "completed"
    assert workflow_data(engine, inst.id)["echo"] == {"value": 42, "mode": "x"}


def test_operator_error_is_caught_by_the_matching_boundary_event(engine, operators):
    def short(value, mode):
        raise OperatorError("QUOTA_SHORT", "not enough GPUs", {"dimension": "gpu"})

    operators.operator("test/echo")(short)
    engine.registry.deploy({"service.bpmn": read("service.bpmn")})
    inst = engine.runtime.start("service_flow", tenant_id="t-alpha", variables={"amount": 1, "mode": "x"})
    assert inst.status == "completed"
    rows = history(engine, inst.id)
    assert ("end_failed", "COMPLETED", None) in rows and ("call", "CANCELLED", None) in rows
    failure = workflow_data(engine, inst.id)["failure"]
    assert failure["code"] == "QUOTA_SHORT" and failure["details"] == {"dimension": "gpu"}


def test_uncaught_operator_error_and_missing_operator_become_incidents_that_retry_clears(engine, operators):
    engine.registry.deploy({"service.bpmn": read("service.bpmn")})
    inst = engine.runtime.start("service_flow", tenant_id="t-alpha", variables={"amount": 1, "mode": "x"})
    assert inst.status == "incident"
    with engine.db.read() as s:
        incident = s.scalars(select(Incident).where(Incident.instance_id == inst.id)).one()
    assert incident.kind == "operator-missing" and incident.task_spec == "call"
    assert "'test/echo' is not registered" in incident.message

    def other(value, mode):
        raise OperatorError("OTHER", "unexpected")

    operators.operator("test/echo")(other)
    again = engine.runtime.retry_incident(incident.id, actor="operator")
    assert again.status == "incident"
    with engine.db.read() as s:
        newest = s.scalars(select(Incident).where(Incident.status == "open")).one()
    assert newest.kind == "bpmn-error" and newest.error_code == "OTHER"

    operators.unregister("test/echo")
    operators.operator("test/echo")(lambda value, mode: "ok")
    assert engine.runtime.retry_incident(newest.id, actor="operator").status == "completed"
    assert workflow_data(engine, inst.id)["echo"] == "ok"
    with pytest.raises(Conflict):
        engine.runtime.retry_incident(newest.id, actor="operator")


def test_script_failure_becomes_an_incident_and_keeps_the_state(engine):
    engine.registry.deploy(APPROVAL)
    inst = engine.runtime.start("approval", tenant_id="t-alpha", variables={"amount": "not a number"})
    [(guid, _)] = ready_tasks(engine, inst.id)
    after = engine.runtime.complete_task(inst.id, guid, {"decision": "approve"}, actor="a")
    assert after.status == "incident"
    assert ("review", "COMPLETED", "a") in history(engine, inst.id)
    assert ("record", "ERROR", None) in history(engine, inst.id)


def test_call_activity_binds_the_latest_child_at_start_and_stays_bound(any_engine):
    any_engine.registry.deploy({"caller.bpmn": read("caller.bpmn"), "child.bpmn": read("child_v1.bpmn")})
    first = any_engine.runtime.start("caller", tenant_id="t-alpha")
    any_engine.registry.deploy({"child.bpmn": read("child_v2.bpmn")})
    second = any_engine.runtime.start("caller", tenant_id="t-alpha")
    for inst, expected in ((first, 1), (second, 2)):
        [(guid, spec)] = ready_tasks(any_engine, inst.id)
        assert spec == "child_task"
        assert any_engine.runtime.complete_task(inst.id, guid, {}, actor="u").status == "completed"
        assert workflow_data(any_engine, inst.id)["child_version"] == expected


def test_a_saved_state_holds_no_spec_and_restores_around_the_stored_ones(engine):
    """Specs are stored once per definition: the state of an instance waiting in a called process
    carries neither its own spec nor the child's, and restores (and completes) around them."""
    import json

    engine.registry.deploy({"caller.bpmn": read("caller.bpmn"), "child.bpmn": read("child_v1.bpmn")})
    inst = engine.runtime.start("caller", tenant_id="t-alpha")
    with engine.db.read() as s:
        state = json.loads(s.get(ProcessInstance, inst.id).state_json)
    assert "spec" not in state and "subprocess_specs" not in state
    assert state["subprocesses"] and all(sub["spec"] == "child" for sub in state["subprocesses"].values())
    [(guid, _spec)] = ready_tasks(engine, inst.id)
    assert engine.runtime.complete_task(inst.id, guid, {}, actor="u").status == "completed"


def test_a_start_remembers_its_bindings_until_any_process_deploys(any_engine):
    """The second start of a key reads its definition (and the registry's stamp) in one statement
    instead of one per level of calls; a deploy through another engine on the same database (another
    server process) changes the stamp, and the next start binds the new version."""
    from engine.core import Engine
    from engine.models import ProcessDefinition
    from engine.registry import resolve_with_calls
    from tests.sql_budget import SqlCounter, shape

    any_engine.registry.deploy({"caller.bpmn": read("caller.bpmn"), "child.bpmn": read("child_v1.bpmn")})
    any_engine.runtime.start("caller", tenant_id="t-alpha")
    counter = SqlCounter(any_engine.db.engine)
    with any_engine.db.write() as s, counter.block() as tally:
        definition, bound = any_engine.runtime.bindings.resolve(s, "caller", "t-alpha")
    assert [shape(st) for st in tally.statements if shape(st) not in ("BEGIN", "COMMIT")] == [
        "SELECT process_definitions"]
    with any_engine.db.read() as s:
        fresh, fresh_bound = resolve_with_calls(s, "caller", "t-alpha")
        assert (definition.id, bound) == (fresh.id, fresh_bound)

    second = Engine(any_engine.settings, operators=any_engine.runtime.operators)  # another server process
    try:
        second.registry.deploy({"child.bpmn": read("child_v2.bpmn")})
    finally:
        second.close()
    inst = any_engine.runtime.start("caller", tenant_id="t-alpha")
    with any_engine.db.read() as s:
        child = s.get(ProcessDefinition, inst.bound_definitions["child"])
        assert child.version == 2
    [(guid, _spec)] = ready_tasks(any_engine, inst.id)
    any_engine.runtime.complete_task(inst.id, guid, {}, actor="u")
    assert workflow_data(any_engine, inst.id)["child_version"] == 2


def test_starting_a_process_whose_child_is_missing_is_refused(engine):
    engine.registry.deploy({"caller.bpmn": read("caller.bpmn")})
    with pytest.raises(Conflict, match="calls 'child'"):
        engine.runtime.start("caller", tenant_id="t-alpha")
