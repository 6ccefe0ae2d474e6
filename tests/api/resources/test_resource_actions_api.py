"""My resources over HTTP: a tenant lists and sees its resources (with the cost so far), acts on
them (202 with the request), terminates one or a whole order; another tenant gets 404; bad input
is 422 naming the field; a second open termination is 409 naming the first."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import login
from tests.domains.resource_actions.world import DELETED, ResourceWorld


@pytest.fixture
def world(api_engine: Any) -> ResourceWorld:
    return ResourceWorld(api_engine)


def test_a_tenant_lists_and_sees_its_resource_with_the_cost_so_far(client: FlaskClient, world: ResourceWorld):
    alpha = login(client, "alpha-user")
    system = world.resource().business_system_id
    listed = client.get(f"/api/v1/resources?business_system_id={system}&status=running", headers=alpha).get_json()
    assert [r["id"] for r in listed["items"]] == [world.resource_id]
    assert client.get("/api/v1/resources?status=stopped", headers=alpha).get_json()["items"] == []
    seen = client.get(f"/api/v1/resources/{world.resource_id}/overview", headers=alpha)
    assert seen.status_code == 200
    body = seen.get_json()
    assert body["id"] == world.resource_id and body["cost_so_far"] == "0.00" and body["open_requests"] == []


def test_actions_answer_202_with_the_request_and_the_process_does_them(client: FlaskClient, world: ResourceWorld):
    alpha = login(client, "alpha-user")
    stopped = client.post(f"/api/v1/resources/{world.resource_id}/actions", json={"action": "stop"}, headers=alpha)
    assert stopped.status_code == 202, stopped.get_json()
    assert stopped.get_json()["status"] == "done" and world.provider_status() == "stopped"
    asked = client.post(f"/api/v1/resources/{world.resource_id}/actions", json={"action": "terminate"}, headers=alpha)
    assert asked.status_code == 202 and asked.get_json()["status"] == "pending"
    again = client.post(f"/api/v1/resources/{world.resource_id}/actions", json={"action": "terminate"}, headers=alpha)
    assert again.status_code == 409 and again.get_json()["errors"][0]["request_id"] == asked.get_json()["id"]
    world.approve(asked.get_json()["instance_id"])
    done = client.get(f"/api/v1/resource-requests/{asked.get_json()['id']}", headers=alpha).get_json()
    assert done["status"] == "done" and done["result"]["final_line"] is not None
    assert world.provider_status() == DELETED
    mine = client.get(f"/api/v1/resource-requests?resource_id={world.resource_id}", headers=alpha).get_json()
    assert mine["total"] == 2 and {r["kind"] for r in mine["items"]} == {"stop", "terminate"}


def test_a_whole_order_is_terminated_one_request_per_resource(client: FlaskClient, world: ResourceWorld):
    alpha = login(client, "alpha-user")
    resp = client.post(f"/api/v1/orders/{world.order_id}/terminate", headers=alpha)
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    assert [r["resource_id"] for r in body["requests"]] == [world.resource_id]
    assert body["requests"][0]["order_id"] == world.order_id


def test_another_tenant_gets_404_for_the_resource_its_requests_and_its_order(client: FlaskClient,
                                                                            world: ResourceWorld):
    alpha, beta = login(client, "alpha-user"), login(client, "beta-admin")
    mine = client.post(f"/api/v1/resources/{world.resource_id}/actions", json={"action": "reboot"},
                       headers=alpha).get_json()
    for method, url, body in (("get", f"/api/v1/resources/{world.resource_id}/overview", None),
                              ("post", f"/api/v1/resources/{world.resource_id}/actions", {"action": "terminate"}),
                              ("get", f"/api/v1/resource-requests/{mine['id']}", None),
                              ("post", f"/api/v1/orders/{world.order_id}/terminate", None)):
        resp = getattr(client, method)(url, json=body, headers=beta)
        assert resp.status_code == 404, (url, resp.status_code)
    assert client.get("/api/v1/resource-requests", headers=beta).get_json()["total"] == 0
    assert world.provider_status() == "running"


def test_staff_see_every_resource_and_act_on_a_tenants(client: FlaskClient, world: ResourceWorld):
    operator = login(client, "operator")
    assert client.get(f"/api/v1/resources/{world.resource_id}/overview", headers=operator).status_code == 200
    resp = client.post(f"/api/v1/resources/{world.resource_id}/actions", json={"action": "stop"}, headers=operator)
    assert resp.status_code == 202 and resp.get_json()["requested_by"] == "operator"


@pytest.mark.parametrize(("body", "field"), [({"action": "explode"}, "action"), ({}, "action"),
                                             ({"action": "resize"}, "spec"),
                                             ({"action": "resize", "spec": {"vcpu": "many"}}, "spec"),
                                             ({"action": "resize", "spec": "big"}, "spec")])
def test_a_bad_action_is_422_naming_the_field(client: FlaskClient, world: ResourceWorld, body, field):
    alpha = login(client, "alpha-user")
    resp = client.post(f"/api/v1/resources/{world.resource_id}/actions", json=body, headers=alpha)
    assert resp.status_code == 422, resp.get_json()
    assert field in {e.get("field") for e in resp.get_json()["errors"]}
    assert client.get("/api/v1/resource-requests", headers=alpha).get_json()["total"] == 0


def test_acting_needs_resource_operate(client: FlaskClient, world: ResourceWorld):
    approver = login(client, "alpha-approver")  # approves, does not operate resources
    resp = client.post(f"/api/v1/resources/{world.resource_id}/actions", json={"action": "stop"}, headers=approver)
    assert resp.status_code == 403


def test_a_tenant_user_reaches_only_the_resources_of_the_business_systems_they_belong_to(
        client: FlaskClient, world: ResourceWorld):
    from engine.domains.resources import service as resources
    from engine.models import BusinessSystem

    with world.engine.db.write() as s:
        other = BusinessSystem(tenant_id=world.alpha, organization_id=world.alpha_admin.organization_id,
                               code="other", name="Another system")
        s.add(other)
        s.flush()
        other_id = other.id
    resources.assign(world.engine, world.admin, world.resource_id, business_system_id=other_id)
    user, admin = login(client, "alpha-user"), login(client, "alpha-admin")
    assert client.get(f"/api/v1/resources/{world.resource_id}/overview", headers=user).status_code == 404
    assert client.get(f"/api/v1/resources/{world.resource_id}", headers=user).status_code == 404
    assert client.get("/api/v1/resources", headers=user).get_json()["total"] == 0
    resp = client.post(f"/api/v1/resources/{world.resource_id}/actions", json={"action": "stop"}, headers=user)
    assert resp.status_code == 404
    assert client.get(f"/api/v1/resources/{world.resource_id}/overview", headers=admin).status_code == 200
    assert client.post(f"/api/v1/resources/{world.resource_id}/actions", json={"action": "stop"},
                       headers=admin).status_code == 202


def test_staff_see_an_orphan_but_nothing_acts_on_it_before_it_is_assigned(client: FlaskClient, world: ResourceWorld):
    from engine.domains.resources import service as resources

    resources.assign(world.engine, world.admin, world.resource_id, tenant_id=None)
    operator = login(client, "operator")
    orphans = client.get("/api/v1/resources/orphans", headers=operator).get_json()
    assert world.resource_id in {r["id"] for r in orphans["items"]}
    seen = client.get(f"/api/v1/resources/{world.resource_id}/overview", headers=operator)
    assert seen.status_code == 200 and seen.get_json()["orphan"] is True
    resp = client.post(f"/api/v1/resources/{world.resource_id}/actions", json={"action": "terminate"},
                       headers=operator)
    assert resp.status_code == 409 and resp.get_json()["errors"][0]["field"] == "resource_id"
    alpha = login(client, "alpha-admin")
    assert client.get(f"/api/v1/resources/{world.resource_id}/overview", headers=alpha).status_code == 404
