"""Messages: subscriptions mirror waiting catches; deliver_message routes by name + correlation key."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.errors import Conflict, InvalidInput, NotFound
from engine.messages import deliver_message
from engine.models import DueTimer, MessageSubscription, ProcessInstance, TaskHistory
from engine.timers import fire_due_timers
from tests.helpers import make_engine, read


def deploy(engine, *names: str) -> None:
    for name in names:
        engine.registry.deploy({name: read(name)})


def subscriptions(engine, instance_id: str) -> list[tuple[str, str]]:
    with engine.db.read() as s:
        rows = s.scalars(select(MessageSubscription).where(MessageSubscription.instance_id == instance_id))
        return sorted((r.message_name, r.correlation_key) for r in rows)


def instance(engine, instance_id: str) -> tuple[ProcessInstance, dict, dict[str, str]]:
    """(row, workflow data, READY user tasks by BPMN id)."""
    with engine.db.read() as s:
        row = s.get(ProcessInstance, instance_id)
        wf = engine.runtime.load(s, row).workflow
        return row, wf.data, {t.task_spec.bpmn_id: str(t.id) for t in wf.get_tasks(state=TaskState.READY,
                                                                                   manual=True)}


def ended_at(engine, instance_id: str) -> list[str]:
    with engine.db.read() as s:
        return list(s.scalars(select(TaskHistory.task_spec).where(
            TaskHistory.instance_id == instance_id, TaskHistory.task_spec.like("end%"),
            TaskHistory.state == "COMPLETED")))


def pay(engine, order_id: str, extra: dict | None = None) -> str:
    return deliver_message(engine, tenant_id="t-alpha", name="payment_received",
                           correlation_keys={"order_id": order_id}, payload={"amount": 12.5, **(extra or {})},
                           actor="psp")


def test_message_reaches_the_instance_with_the_matching_correlation_key(any_engine, frozen):
    deploy(any_engine, "msg_payment.bpmn")
    first = any_engine.runtime.start("msg_payment", tenant_id="t-alpha", business_key="A",
                                     variables={"order_id": "O-1"})
    second = any_engine.runtime.start("msg_payment", tenant_id="t-alpha", business_key="B",
                                      variables={"order_id": "O-2"})
    assert subscriptions(any_engine, second.id) == [("payment_received", '{"order_id":"O-2"}')]

    assert pay(any_engine, "O-2") == second.id
    row, data, _ = instance(any_engine, second.id)
    assert row.status == "completed" and ended_at(any_engine, second.id) == ["end_paid"]
    assert data["payment"] == {"order_id": "O-2", "amount": 12.5}
    assert subscriptions(any_engine, second.id) == []
    with any_engine.db.read() as s:  # the gateway's timeout left with the gateway
        assert s.scalars(select(DueTimer.status).where(DueTimer.instance_id == second.id)).all() == []

    row, data, _ = instance(any_engine, first.id)
    assert row.status == "running" and "payment" not in data
    assert subscriptions(any_engine, first.id) == [("payment_received", '{"order_id":"O-1"}')]


def test_message_without_correlation_properties_is_addressed_by_business_key(any_engine):
    deploy(any_engine, "msg_signoff.bpmn")
    one = any_engine.runtime.start("msg_signoff", tenant_id="t-alpha", business_key="CR-1")
    two = any_engine.runtime.start("msg_signoff", tenant_id="t-alpha", business_key="CR-2")
    assert subscriptions(any_engine, two.id) == [("signed_off", '{"business_key":"CR-2"}')]

    got = deliver_message(any_engine, tenant_id="t-alpha", name="signed_off",
                          correlation_keys={"business_key": "CR-2"}, payload={"by": "carol"}, actor="carol")
    assert got == two.id
    row, data, _ = instance(any_engine, two.id)
    assert row.status == "completed" and data["signer"] == "carol" and data["signoff"] == {"by": "carol"}
    assert instance(any_engine, one.id)[0].status == "running"


def test_boundary_message_interrupts_the_task_it_is_attached_to(engine):
    deploy(engine, "msg_cancel.bpmn")
    inst = engine.runtime.start("msg_cancel", tenant_id="t-alpha", variables={"order_id": 7})
    assert subscriptions(engine, inst.id) == [("order_cancelled", '{"order_id":7}')]
    deliver_message(engine, tenant_id="t-alpha", name="order_cancelled", correlation_keys={"order_id": 7},
                    payload={"reason": "customer"}, actor="shop")
    row, data, ready = instance(engine, inst.id)
    assert row.status == "completed" and ended_at(engine, inst.id) == ["end_cancelled"] and ready == {}
    assert data["cancellation"] == {"order_id": 7, "reason": "customer"}


def test_subscription_disappears_when_the_user_completes_the_task_first(engine):
    deploy(engine, "msg_cancel.bpmn")
    inst = engine.runtime.start("msg_cancel", tenant_id="t-alpha", variables={"order_id": 8})
    engine.runtime.complete_task(inst.id, instance(engine, inst.id)[2]["fulfil"], {}, actor="picker")
    assert subscriptions(engine, inst.id) == []
    with pytest.raises(NotFound):
        deliver_message(engine, tenant_id="t-alpha", name="order_cancelled", correlation_keys={"order_id": 8},
                        payload={}, actor="shop")


def test_subscription_is_rekeyed_when_the_conversation_learns_its_correlation(engine):
    """The reply waits before the order it answers is sent: first addressable by business key
    only; once "order_placed" carried order_id, by that order_id (and no longer by key)."""
    deploy(engine, "msg_conversation.bpmn")
    inst = engine.runtime.start("msg_conversation", tenant_id="t-alpha", business_key="PO-1")
    assert subscriptions(engine, inst.id) == [("shipped", '{"business_key":"PO-1"}')]

    engine.runtime.complete_task(inst.id, instance(engine, inst.id)[2]["place"], {"order_id": "O-5"}, actor="buyer")
    assert subscriptions(engine, inst.id) == [("shipped", '{"order_id":"O-5"}')]
    with pytest.raises(NotFound):
        deliver_message(engine, tenant_id="t-alpha", name="shipped", correlation_keys={"business_key": "PO-1"},
                        payload={"order_id": "O-5"}, actor="carrier")
    deliver_message(engine, tenant_id="t-alpha", name="shipped", correlation_keys={"order_id": "O-5"},
                    payload={"carrier": "DHL"}, actor="carrier")
    row, data, _ = instance(engine, inst.id)
    assert row.status == "completed" and data["shipment"] == {"order_id": "O-5", "carrier": "DHL"}


def test_unknown_message_wrong_key_or_other_tenant_raise_not_found_and_change_nothing(any_engine):
    deploy(any_engine, "msg_payment.bpmn")
    inst = any_engine.runtime.start("msg_payment", tenant_id="t-alpha", variables={"order_id": "O-1"})
    before = instance(any_engine, inst.id)[0]
    state, version = before.state_json, before.lock_version

    with pytest.raises(NotFound, match=r"'payment_sent'.*O-1"):
        deliver_message(any_engine, tenant_id="t-alpha", name="payment_sent", correlation_keys={"order_id": "O-1"},
                        payload={}, actor="x")
    with pytest.raises(NotFound, match=r"'payment_received'.*O-9"):
        pay(any_engine, "O-9")
    with pytest.raises(NotFound):
        deliver_message(any_engine, tenant_id="t-beta", name="payment_received",
                        correlation_keys={"order_id": "O-1"}, payload={}, actor="x")

    after = instance(any_engine, inst.id)[0]
    assert (after.state_json, after.lock_version, after.status) == (state, version, "running")
    assert subscriptions(any_engine, inst.id) == [("payment_received", '{"order_id":"O-1"}')]


def test_delivering_the_same_message_twice_the_second_finds_nobody_waiting(any_engine):
    deploy(any_engine, "msg_payment.bpmn")
    inst = any_engine.runtime.start("msg_payment", tenant_id="t-alpha", variables={"order_id": "O-1"})
    assert pay(any_engine, "O-1") == inst.id
    with pytest.raises(NotFound, match="no instance is waiting"):
        pay(any_engine, "O-1")
    with any_engine.db.read() as s:
        paid = s.scalars(select(TaskHistory).where(TaskHistory.instance_id == inst.id,
                                                   TaskHistory.task_spec == "end_paid")).all()
    assert len(paid) == 1


def test_a_message_after_the_gateway_timed_out_is_not_found(engine, frozen):
    deploy(engine, "msg_payment.bpmn")
    inst = engine.runtime.start("msg_payment", tenant_id="t-alpha", variables={"order_id": "O-3"})
    frozen.advance(timedelta(days=1, seconds=1))
    assert fire_due_timers(engine, "w1") == 1
    assert ended_at(engine, inst.id) == ["end_expired"] and subscriptions(engine, inst.id) == []
    with pytest.raises(NotFound):
        pay(engine, "O-3")


def test_payload_contradicting_the_correlation_key_is_rejected_and_changes_nothing(engine):
    deploy(engine, "msg_payment.bpmn")
    inst = engine.runtime.start("msg_payment", tenant_id="t-alpha", variables={"order_id": "O-1"})
    with pytest.raises(InvalidInput, match="contradicts"):
        pay(engine, "O-1", {"order_id": "O-2"})
    assert instance(engine, inst.id)[0].status == "running"
    assert subscriptions(engine, inst.id) == [("payment_received", '{"order_id":"O-1"}')]


def test_keys_matching_several_instances_are_a_conflict(engine):
    deploy(engine, "msg_signoff.bpmn")
    for _ in range(2):
        engine.runtime.start("msg_signoff", tenant_id="t-alpha", business_key="SAME")
    with pytest.raises(Conflict, match="2 instances"):
        deliver_message(engine, tenant_id="t-alpha", name="signed_off", correlation_keys={"business_key": "SAME"},
                        payload={"by": "x"}, actor="x")


def test_a_suspended_instance_does_not_take_the_message(engine):
    deploy(engine, "msg_signoff.bpmn")
    inst = engine.runtime.start("msg_signoff", tenant_id="t-alpha", business_key="S-1")
    engine.runtime.suspend(inst.id, actor="op")
    with pytest.raises(Conflict, match="suspended"):
        deliver_message(engine, tenant_id="t-alpha", name="signed_off", correlation_keys={"business_key": "S-1"},
                        payload={"by": "x"}, actor="x")
    engine.runtime.resume(inst.id, actor="op")
    assert deliver_message(engine, tenant_id="t-alpha", name="signed_off", correlation_keys={"business_key": "S-1"},
                           payload={"by": "x"}, actor="x") == inst.id


@pytest.mark.parametrize(("name", "keys", "payload", "field"), [
    ("", {"order_id": "O-1"}, {}, "name"),
    ("  ", {"order_id": "O-1"}, {}, "name"),
    ("m", {}, {}, "correlation_keys"),
    ("m", ["order_id"], {}, "correlation_keys"),
    ("m", {"order_id": {"nested": 1}}, {}, "correlation_keys.order_id"),
    ("m", {"order_id": None}, {}, "correlation_keys.order_id"),
    ("m", {"order_id": float("nan")}, {}, "correlation_keys.order_id"),
    ("m", {"order_id": "O-1"}, [1, 2], "payload"),
    ("m", {"order_id": "O-1"}, {"x": {1, 2}}, "payload"),
])
def test_invalid_message_input_is_rejected(engine, name, keys, payload, field):
    with pytest.raises(InvalidInput) as err:
        deliver_message(engine, tenant_id="t-alpha", name=name, correlation_keys=keys, payload=payload, actor="x")
    assert field in [e["field"] for e in err.value.errors]


@pytest.mark.postgres
def test_two_concurrent_deliveries_of_one_message_apply_once(postgres_database_url, tmp_path):
    engine = make_engine(postgres_database_url, tmp_path)
    try:
        deploy(engine, "msg_payment.bpmn")
        inst = engine.runtime.start("msg_payment", tenant_id="t-alpha", variables={"order_id": "O-1"})
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def sender(n: int) -> None:
            barrier.wait()
            try:
                pay(engine, "O-1", {"attempt": n})
                outcomes.append("delivered")
            except NotFound:
                outcomes.append("not-found")

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcomes) == ["delivered", "not-found"]
        assert ended_at(engine, inst.id) == ["end_paid"]
    finally:
        engine.close()
