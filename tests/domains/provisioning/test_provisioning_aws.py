"""One application becomes a running instance on moto's EC2 (a real ``moto_server`` over HTTP)
through the real order and provisioning processes and the ``aws`` connector: the instance type is
the pool's smallest that holds the line, the create carries the unit's client token, the pending
instance is read again after the 10 s wait until it runs, and the instance is the tenant's, billed
once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors import registry
from engine import clock
from engine.domains.billing.models import RatedResource
from engine.domains.resources import service as resources
from engine.domains.resources.models import CloudResource, ResourcePool
from tests import cloud_servers
from tests.domains.provisioning.conftest import World, make_world
from tests.servers import Server, ServerNotInstalled

CREDS = {"access_key_id": "AKIATESTING", "secret_access_key": "moto-secret-never-printed"}


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    try:
        server = cloud_servers.start_moto(tmp_path_factory.mktemp("moto"))
    except ServerNotInstalled as exc:
        if os.environ.get("AICMP_REQUIRE_SERVERS", "") not in ("", "0"):
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def aws_world(tmp_path: Path, frozen: clock.FrozenClock, moto: Server) -> Iterator[tuple[World, str]]:
    w = make_world(f"sqlite:///{tmp_path / 'aicmp.db'}", tmp_path, lab=False)
    w.add_plans()
    with registry.connect("aws", moto.url, "us-east-1", CREDS, {}) as probe:
        ami = probe.ec2.describe_images()["Images"][0]["ImageId"]
    account = resources.create_account(w.engine, w.admin, name="aws", provider_type="aws", endpoint=moto.url,
                                       region="us-east-1", credentials=CREDS,
                                       options={"vcpu_limit": 256, "image": ami})
    resources.sync_account(w.engine, w.admin, account["id"])
    with w.engine.db.read() as s:
        pool = s.scalars(select(ResourcePool.id).where(ResourcePool.account_id == account["id"])).one()
    yield w, pool
    with registry.connect("aws", moto.url, "us-east-1", CREDS, {}) as connector:  # leave moto empty
        for r in connector.list_resources():
            connector.delete(r.provider_id)
    w.engine.close()


def test_an_application_becomes_a_running_instance_on_moto_ec2(aws_world: tuple[World, str], moto: Server,
                                                               frozen: clock.FrozenClock) -> None:
    w, pool = aws_world
    app_id = w.approved([("small", 1)])
    started = w.order(app_id, w.choice(("item1", pool, 1)))
    [unit] = w.units(app_id)
    if unit.status == "creating":  # moto answered pending: it is read again after the 10 s wait
        assert w.instance(started.id)[0] == "running"
        w.wait(frozen, 11)
    status, data, incidents = w.instance(started.id)
    assert (status, incidents) == ("completed", []), data
    [unit] = w.units(app_id)
    assert unit.status == "running" and unit.attempts == 1
    with registry.connect("aws", moto.url, "us-east-1", CREDS, {}) as connector:
        [instance] = connector.list_resources()
    assert instance.client_token == unit.client_token and instance.spec.flavor == "m5.large"
    with w.engine.db.read() as s:
        row = s.get(CloudResource, unit.resource_id)
        assert (row.provider_id, row.tenant_id, row.status) == (instance.provider_id, w.tenant["alpha"], "running")
        assert row.business_system_id is not None
        assert s.scalars(select(RatedResource.resource_ref)).all() == [unit.resource_id]
    assert w.order_row(app_id).status == "running"
