"""The demo's simulated cloud (``seed(simulator=True)``, what ``aicmp seed`` and a fresh ``aicmp
serve`` do): an approved application on the demo is placed, created, billed and running end to end;
seeding again adds nothing; the tests' default seed stays without pools."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from engine import clock
from engine.config import Settings
from engine.core import Engine
from engine.domains.billing.models import PricePlan, RatedResource
from engine.domains.resources.models import CloudAccount, ResourcePool
from seed import seed
from seed.simulator import ACCOUNT
from tests.domains.provisioning.conftest import PASSWORD, World


def test_the_demo_cloud_runs_an_approved_application_and_is_seeded_once(tmp_path: Path,
                                                                       frozen: clock.FrozenClock) -> None:
    eng = Engine(Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'aicmp.db'}",
                          argon2_profile="test"))
    try:
        report = seed(eng, demo_password=PASSWORD, announce=None, simulator=True)
        assert f"account {ACCOUNT} (4 pools)" in report.simulator
        assert seed(eng, demo_password=PASSWORD, announce=None, simulator=True).simulator == []
        with eng.db.read() as s:
            pools = {p.scope: p.id for p in s.scalars(select(ResourcePool))}
            assert s.scalar(select(func.count()).select_from(CloudAccount)) == 1
            assert s.scalar(select(func.count()).select_from(PricePlan)) == 8
        assert sorted(pools) == ["910b-zone", "a100-zone", "cpu-zone", "h100-zone"]
        w = World(eng, lab=False)  # the shortcuts, on the demo's own cloud
        app_id = w.approved([("a100-1", 2), ("small", 1)])
        started = w.order(app_id, w.choice(("item1", pools["a100-zone"], 2), ("item2", pools["cpu-zone"], 1)))
        assert w.instance(started.id)[0] == "completed"
        assert [u.status for u in w.units(app_id)] == ["running"] * 3
        assert w.order_row(app_id).status == "running"
        with eng.db.read() as s:
            assert s.scalar(select(func.count()).select_from(RatedResource)) == 3
    finally:
        eng.close()


def test_the_default_seed_has_no_cloud(world: World) -> None:
    with world.engine.db.read() as s:  # the world adds its own account; the seed made none
        assert s.scalars(select(CloudAccount.name)).all() == ["lab"]
