"""Task inbox: rows follow READY user tasks; candidates, tenancy, claims, forms, returns, countersign."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from engine.errors import Conflict, InvalidInput, NotFound
from engine.inbox import queries
from engine.models import HumanTask, HumanTaskCandidate, ProcessDefinition, ProcessInstance, TaskHistory
from engine.runtime.steps import advance
from tests.bench.bench_inbox import bulk_inbox
from tests.helpers import T0, make_engine, read

EXPENSE = {name: read(name) for name in ("inbox_expense.bpmn", "inbox_submit-schema.json",
                                         "inbox_submit-uischema.json", "inbox_approve-schema.json")}
CLAIM = {"amount": 120.5, "purpose": "train tickets"}


def countersign(mode: str) -> dict[str, bytes]:
    return {f"inbox_countersign_{mode}.bpmn": read(f"inbox_countersign_{mode}.bpmn"),
            "inbox_vote-schema.json": read("inbox_vote-schema.json")}


@pytest.fixture(autouse=True)
def _frozen(frozen):  # every test here runs on the frozen clock
    return frozen


def rows(eng, instance_id: str | None = None) -> list[HumanTask]:
    with eng.db.read() as s:
        q = select(HumanTask).order_by(HumanTask.created_at, HumanTask.task_spec)
        if instance_id is not None:
            q = q.where(HumanTask.instance_id == instance_id)
        return list(s.scalars(q))


def candidates(eng, task_id: str) -> set[tuple[str, str]]:
    with eng.db.read() as s:
        return {(c.kind, c.value) for c in s.scalars(select(HumanTaskCandidate).where(
            HumanTaskCandidate.task_id == task_id))}


def history(eng, instance_id: str) -> list[tuple[str, str, str | None]]:
    with eng.db.read() as s:
        q = select(TaskHistory).where(TaskHistory.instance_id == instance_id).order_by(TaskHistory.id)
        return [(r.task_spec, r.state, r.actor) for r in s.scalars(q)]


def mine(eng, user: str, roles=(), tenant: str = "t-alpha") -> list[str]:
    return [t.task_spec for t in eng.inbox.list_tasks(tenant, user, roles, page_size=200).items]


def the_task(eng, user: str, roles=(), tenant: str = "t-alpha"):
    [task] = eng.inbox.list_tasks(tenant, user, roles).items
    return task


def submitted(eng, tenant: str = "t-alpha", initiator: str = "alice", **variables) -> tuple[str, str]:
    """Start an expense claim and submit it; returns (instance id, approve task id)."""
    inst = eng.runtime.start("inbox_expense", tenant_id=tenant, initiator=initiator, business_key="EXP-1",
                             variables=variables)
    eng.inbox.complete(tenant, the_task(eng, initiator, tenant=tenant).id, user=initiator, data=CLAIM)
    [approve] = rows(eng, inst.id)
    return inst.id, approve.id


# -- rows follow the tasks ------------------------------------------------------------------

def test_rows_appear_and_disappear_from_start_to_end(any_engine):
    eng = any_engine
    eng.registry.deploy(EXPENSE)
    inst = eng.runtime.start("inbox_expense", tenant_id="t-alpha", initiator="alice", business_key="EXP-7")
    [submit] = rows(eng, inst.id)
    assert (submit.task_spec, submit.task_name, submit.lane) == ("submit", "Submit claim", None)
    assert (submit.process_key, submit.business_key, submit.tenant_id) == ("inbox_expense", "EXP-7", "t-alpha")
    assert (submit.form_schema, submit.form_ui_schema) == ("inbox_submit-schema.json", "inbox_submit-uischema.json")
    assert submit.created_at == T0 and submit.due_at is None and submit.assignee is None
    assert candidates(eng, submit.id) == {("user", "alice")}  # no lane: the initiator

    eng.inbox.complete("t-alpha", submit.id, user="alice", data=CLAIM)
    [approve] = rows(eng, inst.id)
    assert (approve.task_spec, approve.lane, approve.form_ui_schema) == ("approve", "approver", None)
    assert approve.due_at == T0 + timedelta(hours=48)  # the boundary timer
    assert candidates(eng, approve.id) == {("role", "approver")}
    assert candidates(eng, submit.id) == set()

    eng.inbox.complete("t-alpha", approve.id, user="bob", roles=["approver"], data={"decision": "approve"})
    [pay] = rows(eng, inst.id)
    assert (pay.task_spec, pay.lane, pay.due_at) == ("pay", "finance", None)

    done = eng.inbox.complete("t-alpha", pay.id, user="carol", roles=["finance"])
    assert done.status == "completed"
    assert rows(eng) == []
    with eng.db.read() as s:
        assert s.scalars(select(HumanTaskCandidate)).all() == []
    assert ("approve", "COMPLETED", "bob") in history(eng, inst.id)


def test_cancelling_the_instance_or_a_boundary_timer_removes_rows(any_engine, frozen):
    eng = any_engine
    eng.registry.deploy(EXPENSE)
    cancelled, _ = submitted(eng)
    timed_out, _ = submitted(eng)
    eng.runtime.cancel(cancelled, actor="op")
    assert rows(eng, cancelled) == []
    assert [r.task_spec for r in rows(eng, timed_out)] == ["approve"]

    frozen.advance(timedelta(hours=49))
    with eng.runtime.mutation(timed_out, tenant_id="t-alpha", actor=None) as (_s, loaded):
        loaded.workflow.refresh_timers()
        advance(loaded.workflow, loaded.kind, loaded.host)
    assert rows(eng, timed_out) == []
    assert ("end_escalated", "COMPLETED", None) in history(eng, timed_out)


def test_an_unchanged_save_leaves_rows_alone(engine):
    engine.registry.deploy(EXPENSE)
    inst, approve = submitted(engine)
    engine.inbox.claim("t-alpha", approve, user="bob", roles=["approver"])
    with engine.runtime.mutation(inst, tenant_id="t-alpha", actor=None):
        pass  # a save that moves no user task
    [row] = rows(engine, inst)
    assert (row.id, row.assignee) == (approve, "bob")


def test_a_called_process_task_reads_forms_from_its_own_definition(engine):
    engine.registry.deploy({"caller.bpmn": read("caller.bpmn"), "child.bpmn": read("child_v1.bpmn")})
    inst = engine.runtime.start("caller", tenant_id="t-alpha", initiator="alice")
    [row] = rows(engine, inst.id)
    with engine.db.read() as s:
        child = s.scalars(select(ProcessDefinition.id).where(ProcessDefinition.key == "child")).one()
    assert row.task_spec == "child_task" and row.extra["definition_id"] == child
    assert row.process_key == "caller" and candidates(engine, row.id) == {("user", "alice")}
    engine.inbox.complete("t-alpha", row.id, user="alice")
    assert rows(engine) == []


# -- candidates -----------------------------------------------------------------------------

def test_lane_roles_are_resolved_inside_the_instance_tenant(any_engine):
    eng = any_engine
    eng.registry.deploy(EXPENSE)
    _, alpha_task = submitted(eng, "t-alpha")
    _, beta_task = submitted(eng, "t-beta")
    assert [t.id for t in eng.inbox.list_tasks("t-alpha", "bob", ["approver"]).items] == [alpha_task]
    assert [t.id for t in eng.inbox.list_tasks("t-beta", "bob", ["approver"]).items] == [beta_task]
    assert eng.inbox.list_tasks("t-alpha", "bob", ["finance"]).total == 0
    for op in (lambda: eng.inbox.get_task("t-beta", alpha_task, user="bob", roles=["approver"]),
               lambda: eng.inbox.claim("t-beta", alpha_task, user="bob", roles=["approver"]),
               lambda: eng.inbox.complete("t-beta", alpha_task, user="bob", roles=["approver"],
                                          data={"decision": "approve"}),
               lambda: eng.inbox.return_task("t-beta", alpha_task, user="bob", roles=["approver"])):
        with pytest.raises(NotFound):
            op()
    assert [r.assignee for r in rows(eng)] == [None, None]


def test_lane_owners_override_the_lane_role(engine):
    engine.registry.deploy(EXPENSE)
    _, approve = submitted(engine, lane_owners={"approver": ["carol", "role:auditor"], "finance": ["fin"]})
    assert candidates(engine, approve) == {("user", "carol"), ("role", "auditor")}
    assert mine(engine, "bob", ["approver"]) == []
    assert mine(engine, "carol") == ["approve"]
    assert mine(engine, "dave", ["auditor"]) == ["approve"]


def test_a_task_without_lane_goes_to_the_initiator(engine):
    engine.registry.deploy(EXPENSE)
    engine.runtime.start("inbox_expense", tenant_id="t-alpha", initiator="alice")
    assert mine(engine, "alice") == ["submit"]
    assert mine(engine, "bob", ["approver", "finance"]) == []


# -- claim, unclaim, delegate ---------------------------------------------------------------

def test_claim_unclaim_and_delegate_rules(engine):
    engine.registry.deploy(EXPENSE)
    _, task = submitted(engine)
    inbox, approver = engine.inbox, ["approver"]
    with pytest.raises(Conflict, match="claim it first"):
        inbox.delegate("t-alpha", task, user="bob", to_user="zed", roles=approver)
    with pytest.raises(NotFound):  # not a candidate: the task is not in eve's inbox
        inbox.claim("t-alpha", task, user="eve")

    assert inbox.claim("t-alpha", task, user="bob", roles=approver).assignee == "bob"
    assert inbox.claim("t-alpha", task, user="bob", roles=approver).assignee == "bob"  # again: no-op
    assert mine(engine, "bob", approver) == ["approve"]
    assert mine(engine, "dave", approver) == []  # claimed by someone else
    with pytest.raises(Conflict, match="already claimed by bob"):
        inbox.claim("t-alpha", task, user="dave", roles=approver)
    with pytest.raises(Conflict):
        inbox.unclaim("t-alpha", task, user="dave", roles=approver)
    with pytest.raises(Conflict):
        inbox.delegate("t-alpha", task, user="dave", to_user="dave", roles=approver)
    with pytest.raises(Conflict, match="claimed by bob"):
        inbox.complete("t-alpha", task, user="dave", roles=approver, data={"decision": "approve"})

    view = inbox.delegate("t-alpha", task, user="bob", to_user="zed", roles=approver)
    assert (view.assignee, view.delegated_by) == ("zed", "bob")
    assert mine(engine, "zed") == ["approve"] and mine(engine, "bob", approver) == []
    assert candidates(engine, task) == {("role", "approver"), ("user", "zed")}
    with pytest.raises(Conflict):
        inbox.unclaim("t-alpha", task, user="bob", roles=approver)

    assert inbox.unclaim("t-alpha", task, user="zed").assignee is None
    assert candidates(engine, task) == {("role", "approver")}  # zed held it only as the delegate
    assert mine(engine, "zed") == [] and mine(engine, "dave", approver) == ["approve"]
    with pytest.raises(InvalidInput):
        inbox.delegate("t-alpha", task, user="dave", to_user="", roles=approver)


def test_completing_as_a_candidate_claims_and_records_the_actor(engine):
    engine.registry.deploy(EXPENSE)
    inst, task = submitted(engine)
    engine.inbox.complete("t-alpha", task, user="dave", roles=["approver"], data={"decision": "reject"})
    assert ("approve", "COMPLETED", "dave") in history(engine, inst)
    assert rows(engine, inst) == []


def test_a_failed_completion_gives_back_the_implicit_claim(engine):
    engine.registry.deploy(EXPENSE)
    inst, task = submitted(engine)
    engine.runtime.suspend(inst, actor="op")
    with pytest.raises(Conflict, match="suspended"):
        engine.inbox.complete("t-alpha", task, user="dave", roles=["approver"], data={"decision": "approve"})
    [row] = rows(engine, inst)
    assert row.assignee is None and candidates(engine, task) == {("role", "approver")}


# -- forms ----------------------------------------------------------------------------------

def test_invalid_form_data_names_each_field_and_changes_nothing(any_engine):
    eng = any_engine
    eng.registry.deploy(EXPENSE)
    inst = eng.runtime.start("inbox_expense", tenant_id="t-alpha", initiator="alice")
    [task] = rows(eng, inst.id)
    with eng.db.read() as s:
        version = s.get(ProcessInstance, inst.id).lock_version
    bad = {"amount": -5, "currency": "GBP", "receipts": [{"date": "yesterday"}, {}], "hack": {"lane_owners": 1}}
    with pytest.raises(InvalidInput) as err:
        eng.inbox.complete("t-alpha", task.id, user="alice", data=bad)
    paths = [e["path"] for e in err.value.errors]
    assert paths == ["$.amount", "$.currency", "$.hack", "$.purpose", "$.receipts[0].date", "$.receipts[1].date"]
    assert {e["keyword"] for e in err.value.errors} >= {"exclusiveMinimum", "enum", "required", "format"}
    assert "$.amount" in str(err.value)

    [still] = rows(eng, inst.id)
    assert (still.id, still.assignee) == (task.id, None)  # not even implicitly claimed
    assert [h for h in history(eng, inst.id) if h[1] == "COMPLETED" and h[0] == "submit"] == []
    with eng.db.read() as s:
        assert s.get(ProcessInstance, inst.id).lock_version == version
    with pytest.raises(InvalidInput):
        eng.inbox.complete("t-alpha", task.id, user="alice", data=["not", "an", "object"])


def test_get_task_gives_forms_prefill_and_context(engine):
    engine.registry.deploy(EXPENSE)
    inst = engine.runtime.start("inbox_expense", tenant_id="t-alpha", initiator="alice", business_key="EXP-9",
                                variables={"amount": 42, "secret": "not for the form"})
    [task] = rows(engine, inst.id)
    detail = engine.inbox.get_task("t-alpha", task.id, user="alice")
    assert detail.schema == json.loads(read("inbox_submit-schema.json"))
    assert detail.ui_schema == json.loads(read("inbox_submit-uischema.json"))
    assert detail.data == {"amount": 42, "currency": "EUR"}  # defaults + the form's own fields only
    assert detail.candidates == [("user", "alice")]
    ctx = detail.context
    assert (ctx["instance_id"], ctx["process_key"], ctx["process_name"], ctx["business_key"]) == (
        inst.id, "inbox_expense", "Expense claim", "EXP-9")
    assert ctx["instructions"] == "Describe what you spent and why." and ctx["status"] == "running"
    with pytest.raises(NotFound):
        engine.inbox.get_task("t-alpha", task.id, user="bob", roles=["approver"])


# -- return ---------------------------------------------------------------------------------

def test_return_sends_the_task_back_to_the_previous_user_task(any_engine):
    eng = any_engine
    eng.registry.deploy(EXPENSE)
    inst, approve = submitted(eng)
    with pytest.raises(NotFound):
        eng.inbox.return_task("t-alpha", approve, user="eve", comment="no")
    eng.inbox.return_task("t-alpha", approve, user="bob", roles=["approver"], comment="receipt missing")

    [back] = rows(eng, inst)
    assert back.task_spec == "submit" and back.assignee == "alice"  # to whoever did it last time
    view = the_task(eng, "alice")
    assert view.returned["by"] == "bob" and view.returned["comment"] == "receipt missing"
    assert view.returned["from"] == "approve"
    detail = eng.inbox.get_task("t-alpha", back.id, user="alice")
    assert detail.data == {**CLAIM, "currency": "EUR"}  # the earlier answers
    rows_ = history(eng, inst)
    assert ("approve", "CANCELLED", "bob") in rows_ and rows_[-1] == ("submit", "READY", "bob")

    with eng.db.read() as s:  # the returned task's boundary timer went with it
        assert eng.runtime.load(s, s.get(ProcessInstance, inst)).workflow.waiting_events() == []

    with pytest.raises(Conflict, match="no earlier user task"):
        eng.inbox.return_task("t-alpha", back.id, user="alice", comment="?")
    eng.inbox.complete("t-alpha", back.id, user="alice", data={**CLAIM, "amount": 99})
    [again] = rows(eng, inst)
    assert again.task_spec == "approve" and again.id != approve


# -- countersign ----------------------------------------------------------------------------

def _signers(eng, inst_id: str) -> dict[str, str]:
    return {r.assignee: r.id for r in rows(eng, inst_id)}


def _approved(eng, inst_id: str) -> bool:
    with eng.db.read() as s:
        return eng.runtime.load(s, s.get(ProcessInstance, inst_id)).workflow.data["approved"]


def test_countersign_all_must_approve(any_engine):
    eng = any_engine
    eng.registry.deploy(countersign("all"))
    signers = ["ann", "ben", "cat"]
    inst = eng.runtime.start("inbox_countersign_all", tenant_id="t-alpha", initiator="ini",
                             variables={"signers": signers})
    tasks = _signers(eng, inst.id)
    assert set(tasks) == set(signers)
    for name in signers:  # each signer sees only their own child
        assert [t.id for t in eng.inbox.list_tasks("t-alpha", name, ["signer"]).items] == [tasks[name]]
        assert the_task(eng, name).countersign == name
        assert candidates(eng, tasks[name]) == {("user", name)}
    assert mine(eng, "dan", ["signer"]) == []  # the lane's role does not open the children
    with pytest.raises(NotFound):
        eng.inbox.complete("t-alpha", tasks["ben"], user="ann", data={"vote": "approve"})

    eng.inbox.complete("t-alpha", tasks["ann"], user="ann", data={"vote": "approve"})
    eng.inbox.complete("t-alpha", tasks["cat"], user="cat", data={"vote": "approve"})
    assert set(_signers(eng, inst.id)) == {"ben"}
    done = eng.inbox.complete("t-alpha", tasks["ben"], user="ben", data={"vote": "approve"})
    assert done.status == "completed" and _approved(eng, inst.id) is True

    vetoed = eng.runtime.start("inbox_countersign_all", tenant_id="t-alpha", initiator="ini",
                               variables={"signers": signers})
    tasks = _signers(eng, vetoed.id)
    eng.inbox.complete("t-alpha", tasks["ann"], user="ann", data={"vote": "approve"})
    done = eng.inbox.complete("t-alpha", tasks["ben"], user="ben", data={"vote": "reject"})
    assert done.status == "completed" and _approved(eng, vetoed.id) is False
    assert rows(eng, vetoed.id) == []  # cat's child was cancelled with the veto


def test_countersign_any_one_approves(any_engine):
    eng = any_engine
    eng.registry.deploy(countersign("any"))
    inst = eng.runtime.start("inbox_countersign_any", tenant_id="t-alpha", initiator="ini",
                             variables={"signers": ["ann", "ben", "cat"]})
    tasks = _signers(eng, inst.id)
    eng.inbox.complete("t-alpha", tasks["cat"], user="cat", data={"vote": "reject"})
    assert set(_signers(eng, inst.id)) == {"ann", "ben"}
    with pytest.raises(InvalidInput):
        eng.inbox.complete("t-alpha", tasks["ann"], user="ann", data={"vote": "maybe"})
    done = eng.inbox.complete("t-alpha", tasks["ben"], user="ben", data={"vote": "approve"})
    assert done.status == "completed" and _approved(eng, inst.id) is True
    assert rows(eng, inst.id) == []
    with pytest.raises(Conflict, match="no longer open"):  # cancelled when ben's approval decided it
        eng.inbox.complete("t-alpha", tasks["ann"], user="ann", data={"vote": "approve"})


# -- listing --------------------------------------------------------------------------------

def test_pagination_is_newest_first_with_totals(engine, frozen):
    engine.registry.deploy(EXPENSE)
    started = []
    for n in range(7):
        frozen.advance(timedelta(minutes=1))
        started.append(engine.runtime.start("inbox_expense", tenant_id="t-alpha", initiator="alice",
                                            business_key=f"EXP-{n}").business_key)
    pages = [engine.inbox.list_tasks("t-alpha", "alice", page=p, page_size=3) for p in (1, 2, 3, 4)]
    assert [p.total for p in pages] == [7, 7, 7, 7]
    assert [[t.business_key for t in p.items] for p in pages] == [
        ["EXP-6", "EXP-5", "EXP-4"], ["EXP-3", "EXP-2", "EXP-1"], ["EXP-0"], []]
    assert engine.inbox.list_tasks("t-alpha", "nobody").total == 0
    with pytest.raises(InvalidInput):
        engine.inbox.list_tasks("t-alpha", "alice", page=0)
    with pytest.raises(InvalidInput):
        engine.inbox.list_tasks("t-alpha", "alice", page_size=1000)


# -- scale on PostgreSQL --------------------------------------------------------------------

@pytest.mark.postgres
def test_listing_uses_the_candidate_index_on_postgres(tmp_path, operators, postgres_database_url):
    eng = make_engine(postgres_database_url, tmp_path, operators)
    try:
        eng.registry.deploy(EXPENSE)
        tenants = bulk_inbox(eng, tenants=200, per_tenant=100)
        query = queries.list_query(tenants[7], "user3", ["role1", "role2"], 20, 0)
        compiled = query.compile(eng.db.engine, compile_kwargs={"literal_binds": True})
        with eng.db.read() as s:
            plan = "\n".join(r[0] for r in s.execute(text(f"EXPLAIN {compiled}")))
        assert "ix_human_task_candidates_lookup" in plan, plan
        assert "Seq Scan" not in plan, plan
        page = eng.inbox.list_tasks(tenants[7], "user3", ["role1", "role2"], page_size=20)
        assert page.total == 40 + 2 and len(page.items) == 20  # roles 1, 2 + user3's tasks in other lanes
    finally:
        eng.close()
