"""The ``placement`` port in the engine: a process's service task calls ``placement/solve`` with an
instance from its data and gets the plans as its result; a malformed instance is the BPMN error
``INVALID_INSTANCE``; outside a process instance the port refuses."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

import tasks.ports
from engine.models import Incident, ProcessInstance
from tasks.ports import Refused
from tasks.registry import REGISTRY
from tests.domains.placement.helpers import pool, request
from tests.helpers import one_service_task

PROCESS = one_service_task("place", "placement/solve", "placement", {
    "instance": ("any", "instance"), "time_limit_s": ("any", "5")}, task_id="solve")

INSTANCE = {"requests": [request("web", count=2), request("h100", gpu_model="H100", gpu_count=1)],
            "pools": [pool("p1"), pool("p2", cost={"vcpu": 0.01})]}


@pytest.fixture
def placing(engine, operators):
    operators.register(REGISTRY.get("placement/solve"))
    engine.registry.deploy({"place.bpmn": PROCESS})
    return engine


def test_a_service_task_gets_the_three_plans_as_its_result(placing):
    instance = placing.runtime.start("place", tenant_id="t-alpha", variables={"instance": INSTANCE})
    with placing.db.read() as s:
        row = s.get(ProcessInstance, instance.id)
        assert not s.scalars(select(Incident).where(Incident.instance_id == instance.id)).all()
        assert row.status == "completed"
        plans = placing.runtime.load(s, row).workflow.data["placement"]["plans"]
    assert [p["objective"] for p in plans] == ["cost", "performance", "balance"]
    assert plans[0]["assignments"] == [{"request_id": "web", "pool_id": "p2", "copies": 2}]
    assert plans[0]["explanation"]["unplaced"][0]["reason"] == "accelerator"


def test_a_malformed_instance_is_the_bpmn_error_invalid_instance(placing):
    bad = {"requests": [request("web", vcpu=-1)], "pools": []}
    instance = placing.runtime.start("place", tenant_id="t-alpha", variables={"instance": bad})
    with placing.db.read() as s:
        [incident] = s.scalars(select(Incident).where(Incident.instance_id == instance.id)).all()
    assert "INVALID_INSTANCE" in (incident.error_code or "") + (incident.message or "")
    assert "requests[0].vcpu" in incident.message


def test_a_process_cannot_hold_its_step_for_a_long_solve(placing):
    """Any tenant's process can call the solver, and the step holds its transaction while it solves:
    a process asks for at most the default limit (longer solves are the CLI's)."""
    slow = one_service_task("place_slow", "placement/solve", "placement", {
        "instance": ("any", "instance"), "time_limit_s": ("any", "600")}, task_id="solve")
    placing.registry.deploy({"place_slow.bpmn": slow})
    instance = placing.runtime.start("place_slow", tenant_id="t-alpha", variables={"instance": INSTANCE})
    with placing.db.read() as s:
        [incident] = s.scalars(select(Incident).where(Incident.instance_id == instance.id)).all()
    assert "INVALID_INSTANCE" in (incident.error_code or "") + (incident.message or "")
    assert "time_limit_s" in incident.message


def test_outside_a_process_instance_the_port_refuses(placing):
    with placing.db.write() as s:
        s.execute(select(1))  # the transaction begins, and with it the ports
        with pytest.raises(Refused) as err:
            tasks.ports.current().placement.plans(INSTANCE)
    assert err.value.code == "NO_INSTANCE"


def test_the_port_reads_the_resource_pools_as_instance_pools(placing):
    from engine.domains.resources import service as resources
    from engine.principal import Principal
    from engine.runtime.services import InstanceScope, running_for

    staff = Principal("u-admin", "admin", None, None, ("platform_admin",))
    resources.create_static_pool(placing, staff, name="rack-1", region="cn-north-1", dimensions={
        "vcpu": {"total": "128", "allocated": "32", "unit_cost": "0.05", "perf_score": "1.2"},
        "memory_gib": {"total": "512", "allocated": "128", "unit_cost": "0.01"},
        "gpus:H100": {"total": "8", "allocated": "2", "unit_cost": "3.5", "perf_score": "100"}})
    with placing.db.write() as s, running_for(InstanceScope(tenant_id="t-alpha", process_key="place")):
        s.execute(select(1))
        [found] = tasks.ports.current().placement.pools()
        plans = tasks.ports.current().placement.plans(
            {"requests": [request("train", vcpu=16, mem=64, gpu_model="H100", gpu_count=4, count=2)],
             "pools": [found]}, objectives=["cost"])
    num = Decimal
    assert found["region"] == "cn-north-1" and num(found["capacity"]["vcpu"]) == 96
    assert num(found["capacity"]["gpu"]["H100"]) == 6 and num(found["utilisation"]["vcpu"]) == num("0.25")
    assert num(found["unit_cost"]["gpu"]["H100"]) == num("3.5")
    assert num(found["perf"]["cpu"]) == num("1.2") and num(found["perf"]["gpu"]["H100"]) == 100
    [plan] = plans["plans"]
    assert plan["placed"] == 1  # 6 H100 free: one copy of 4
    assert plan["explanation"]["unplaced"][0]["fix"] == "+2 H100 in cn-north-1 (pool " + found["id"] + ")"
