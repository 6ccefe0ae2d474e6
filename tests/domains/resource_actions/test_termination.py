"""Termination through the real processes (bpmn/termination, resource_approval) on a real database
and the simulator: approval, deletion at the provider, the final bill line, the quota given back,
the provisioning unit terminated; one termination however many ask at once; another tenant's
resource unknown."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors import simulator
from engine import clock
from engine.config import Settings
from engine.core import Engine
from engine.domains.resource_actions import service
from engine.domains.resource_actions.models import ResourceRequest
from engine.domains.resources.accounts import SIMULATOR_STATE
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import ProcessInstance, SiteMessage
from seed import seed
from tests.domains.resource_actions.world import DELETED, PASSWORD, ResourceWorld


def _world(url: str, tmp_path: Path) -> ResourceWorld:
    eng = Engine(Settings(var_dir=tmp_path, database_url=url, argon2_profile="test"))
    seed(eng, demo_password=PASSWORD, announce=None)
    return ResourceWorld(eng)


@pytest.fixture
def world(tmp_path: Path, frozen: clock.FrozenClock) -> Iterator[ResourceWorld]:
    w = _world(f"sqlite:///{tmp_path / 'aicmp.db'}", tmp_path)
    yield w
    w.engine.close()


def _status(world: ResourceWorld, instance_id: str) -> str:
    with world.engine.db.read() as s:
        return s.get(ProcessInstance, instance_id).status


def test_a_termination_is_approved_deletes_at_the_provider_stops_billing_and_gives_back_the_quota(world):
    assert world.used("vcpu") == 2
    request = service.request_action(world.engine, world.alpha_user, world.resource_id, "terminate")
    assert request["status"] == "pending" and request["kind"] == "terminate"
    assert world.provider_status() == "running"  # nothing happens before the approval
    world.approve(request["instance_id"])
    done = service.get_request(world.engine, world.alpha_admin, request["id"])
    assert done["status"] == "done", done
    assert _status(world, request["instance_id"]) == "completed"
    assert world.provider_status() == DELETED and world.resource().status == DELETED
    lines = world.final_lines()
    assert len(lines) == 1 and lines[0].amount > 0
    assert done["result"]["final_line"]["amount"] == str(lines[0].amount)
    assert world.used("vcpu") == 0 and world.used("memory_gib") == 0
    assert world.unit_status() == "terminated"
    with world.engine.db.read() as s:
        told = s.scalars(select(SiteMessage.kind).where(SiteMessage.kind == "resource.done")).all()
    assert told == ["resource.done"]


def test_a_rejected_termination_leaves_the_resource_its_billing_and_its_quota(world):
    request = service.request_action(world.engine, world.alpha_user, world.resource_id, "terminate")
    world.work(world.alpha_approver, request["instance_id"], "org_approve", {"decision": "reject", "comment": "no"})
    done = service.get_request(world.engine, world.alpha_user, request["id"])
    assert done["status"] == "rejected" and done["finished_at"] is not None
    assert world.provider_status() == "running" and world.used("vcpu") == 2 and world.final_lines() == []
    assert world.unit_status() == "running"
    again = service.request_action(world.engine, world.alpha_user, world.resource_id, "terminate")
    assert again["id"] != request["id"] and again["status"] == "pending"  # a finished one does not block


def test_an_approval_not_given_in_time_goes_to_the_tenant_administrators(world, frozen):
    from engine.timers import fire_due_timers

    request = service.request_action(world.engine, world.alpha_user, world.resource_id, "terminate")
    frozen.advance(timedelta(hours=25))
    assert fire_due_timers(world.engine, "test") == 1
    assert set(world.tasks(request["instance_id"])) == {"admin_approve"}
    world.work(world.alpha_admin, request["instance_id"], "admin_approve", {"decision": "approve"})
    world.work(world.operator, request["instance_id"], "platform_approve", {"decision": "approve"})
    done = service.get_request(world.engine, world.alpha_user, request["id"])
    assert done["status"] == "done"
    assert [a["step"] for a in done["result"]["approvals"]] == ["tenant_admin", "platform"]


def test_a_failed_delete_goes_to_a_work_order_and_the_repair_is_deleted_again(world):
    world.engine.registry.deploy({"work_order.bpmn": (Path(__file__).parent / "work_order_standin.bpmn").read_bytes()})
    simulator.add_fault(world.engine.settings.var_dir / SIMULATOR_STATE, "lab", op="delete", nth=1, kind="error",
                        error="Unauthorised")
    request = service.request_action(world.engine, world.alpha_user, world.resource_id, "terminate")
    world.approve(request["instance_id"])
    assert service.get_request(world.engine, world.alpha_user, request["id"])["status"] == "running"
    assert world.provider_status() == "running"
    handle = world.tasks(request["instance_id"])["handle"]
    world.engine.inbox.complete(world.alpha, handle.id, user=world.alpha_user.username, roles=world.alpha_user.roles,
                                data={"work_order_outcome": {"work_order_id": "wo-1", "number": "WO-1",
                                                             "status": "accepted", "result": {"notes": "fixed"}}})
    done = service.get_request(world.engine, world.alpha_user, request["id"])
    assert done["status"] == "done" and world.provider_status() == DELETED
    assert len(world.final_lines()) == 1 and world.used("vcpu") == 0


def test_another_tenant_cannot_see_or_terminate_the_resource(world):
    with pytest.raises(NotFound):
        service.request_action(world.engine, world.beta_admin, world.resource_id, "terminate")
    with pytest.raises(NotFound):
        service.overview(world.engine, world.beta_admin, world.resource_id)
    mine = service.request_action(world.engine, world.alpha_user, world.resource_id, "stop")
    with pytest.raises(NotFound):
        service.get_request(world.engine, world.beta_admin, mine["id"])
    assert service.list_requests(world.engine, world.beta_admin) == ([], 0)


@pytest.mark.parametrize(("action", "spec", "field"), [("explode", None, "action"), ("resize", None, "spec"),
                                                       ("resize", {"vcpu": "many"}, "spec"),
                                                       ("stop", {"vcpu": 2}, "spec")])
def test_a_bad_action_is_refused_naming_the_field_and_stores_nothing(world, action, spec, field):
    with pytest.raises(InvalidInput) as caught:
        service.request_action(world.engine, world.alpha_user, world.resource_id, action, spec)
    assert caught.value.errors[0]["field"] == field
    with world.engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(ResourceRequest)) == 0


def test_stop_start_and_reboot_run_without_approval_and_resize_waits_for_it(world):
    for action, status in (("stop", "stopped"), ("start", "running"), ("reboot", "running"), ("stop", "stopped")):
        done = service.request_action(world.engine, world.alpha_user, world.resource_id, action)
        assert done["status"] == "done", done
        assert done["result"]["resource_status"] == status and world.provider_status() == status
    resize = service.request_action(world.engine, world.alpha_user, world.resource_id, "resize",
                                    {"vcpu": 4, "memory_gib": "8"})
    assert resize["status"] == "pending"
    assert world.resource().vcpu == 2
    world.approve(resize["instance_id"])
    assert service.get_request(world.engine, world.alpha_user, resize["id"])["status"] == "done"
    assert world.resource().vcpu == 4


def test_a_failed_action_ends_the_request_failed_with_the_providers_error(world):
    resize = service.request_action(world.engine, world.alpha_user, world.resource_id, "resize",
                                    {"vcpu": 4, "memory_gib": "8"})
    world.approve(resize["instance_id"])  # a running resource cannot be resized
    done = service.get_request(world.engine, world.alpha_user, resize["id"])
    assert done["status"] == "failed" and done["result"]["error"]["code"] == "CONNECTOR_CONFLICT"
    assert world.resource().vcpu == 2


def test_a_whole_order_is_one_termination_per_resource(world):
    first = service.request_action(world.engine, world.alpha_user, world.resource_id, "terminate")
    whole = service.terminate_order(world.engine, world.alpha_user, world.order_id)
    assert [r["id"] for r in whole["requests"]] == [first["id"]]  # the open one is kept
    with pytest.raises(NotFound):
        service.terminate_order(world.engine, world.beta_admin, world.order_id)


def test_the_overview_shows_the_cost_so_far(world):
    from engine.domains.billing import rating

    with world.engine.db.write() as s:
        rating.rate_day(s, world.alpha, clock.now().date() - timedelta(days=1))
    seen = service.overview(world.engine, world.alpha_user, world.resource_id)
    assert seen["cost_so_far"] == Decimal("36.00") and seen["open_requests"] == []


# -- one termination however many ask at once --------------------------------------------------------

def _race(world: ResourceWorld, n: int) -> tuple[list[dict], list[Conflict]]:
    barrier, made, refused, other = threading.Barrier(n), [], [], []

    def ask() -> None:
        barrier.wait()
        try:
            made.append(service.request_action(world.engine, world.alpha_user, world.resource_id, "terminate"))
        except Conflict as exc:
            refused.append(exc)
        except Exception as exc:  # noqa: BLE001 - reported below
            other.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert other == []
    return made, refused


def _fifty_terminations_are_one(world: ResourceWorld) -> None:
    made, refused = _race(world, 50)
    assert len(made) == 1 and len(refused) == 49
    assert {e.errors[0]["request_id"] for e in refused} == {made[0]["id"]}
    world.approve(made[0]["instance_id"])
    with world.engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(ResourceRequest)) == 1
    assert world.provider_status() == DELETED and len(world.final_lines()) == 1 and world.used("vcpu") == 0


def test_fifty_concurrent_terminations_make_one_request_one_deletion_and_one_final_line(world):
    _fifty_terminations_are_one(world)


@pytest.mark.postgres
def test_fifty_concurrent_terminations_on_postgresql(tmp_path, frozen, postgres_database_url):
    world = _world(postgres_database_url, tmp_path)
    try:
        _fifty_terminations_are_one(world)
    finally:
        world.engine.close()


def test_the_open_termination_index_holds_when_two_writers_pass_the_check(world):
    """Without the check, the partial unique index alone refuses a second open termination."""
    from sqlalchemy.exc import IntegrityError

    with world.engine.db.write() as s:
        s.add(ResourceRequest(tenant_id=world.alpha, resource_id=world.resource_id, kind="terminate"))
    with pytest.raises(IntegrityError), world.engine.db.write() as s:
        s.add(ResourceRequest(tenant_id=world.alpha, resource_id=world.resource_id, kind="terminate"))
    with world.engine.db.write() as s:  # other kinds, and finished terminations, are not limited
        s.add(ResourceRequest(tenant_id=world.alpha, resource_id=world.resource_id, kind="stop"))
        s.add(ResourceRequest(tenant_id=world.alpha, resource_id=world.resource_id, kind="terminate",
                              status="done", finished_at=clock.now()))
