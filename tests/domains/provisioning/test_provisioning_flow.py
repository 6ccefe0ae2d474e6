"""An approved order provisioned on the simulator through the real order and provisioning processes."""

from __future__ import annotations

from sqlalchemy import select

from engine.domains.applications import service as applications
from engine.domains.billing.models import RatedResource
from engine.domains.resources.models import CloudResource
from engine.models import BusinessSystem
from tests.domains.provisioning.conftest import World


def test_an_approved_order_runs_on_the_chosen_pools_billed_once_and_assigned(any_world: World) -> None:
    w = any_world
    app_id = w.approved([("small", 2), ("a100-1", 1)])
    started = w.order(app_id, w.choice(("item1", w.pool["cpu"], 2), ("item2", w.pool["a100-cheap"], 1)))
    status, data, incidents = w.instance(started.id)
    assert (status, incidents) == ("completed", []), data
    units = w.units(app_id)
    assert [u.status for u in units] == ["running"] * 3
    assert sorted(u.pool_id for u in units) == sorted([w.pool["cpu"]] * 2 + [w.pool["a100-cheap"]])
    assert all(u.attempts == 1 and u.resource_id for u in units)
    assert w.order_row(app_id).status == "running"
    assert w.sim_count() == 3
    with w.engine.db.read() as s:
        system = s.scalar(select(BusinessSystem.id).where(BusinessSystem.tenant_id == w.tenant["alpha"]))
        made = s.scalars(select(CloudResource).where(CloudResource.id.in_([u.resource_id for u in units]))).all()
        assert {(r.tenant_id, r.business_system_id, r.status) for r in made} == {(w.tenant["alpha"], system,
                                                                                  "running")}
        rated = s.scalars(select(RatedResource)).all()
    assert sorted(r.resource_ref for r in rated) == sorted(u.resource_id for u in units)  # billed once each
    detail = applications.get(w.engine, w.user, app_id)["order"]
    assert detail["status"] == "running" and detail["provisioning"]["running"] == 3
    assert [i["provisioning"]["running"] for i in detail["items"]] == [2, 1]
