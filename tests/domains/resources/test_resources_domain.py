"""The resources domain on a real database: credentials sealed at rest under the configured key
(a missing key outside the embedded default stops the start), the periodic probe and sync claim
each account once, the port reaches only the calling instance's tenant, and placement reads the
pools a tenant may use."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors import simulator
from engine.config import Settings
from engine.core import Engine
from engine.domains.resources import secrets, service
from engine.domains.resources.accounts import SIMULATOR_STATE
from engine.domains.resources.models import AccountAlert, CloudAccount, CloudResource, PoolDimension, ResourcePool
from engine.periodic import periodic_work
from engine.principal import Principal
from engine.runtime.services import InstanceScope, running_for
from tasks import ports as task_ports
from tasks.ports import Refused

STAFF = Principal("u-admin", "admin", None, None, ("platform_admin",))
ALPHA = Principal("u-alpha", "alpha-admin", "t-alpha", None, ("tenant_admin",))
BETA = Principal("u-beta", "beta-admin", "t-beta", None, ("tenant_admin",))
SECRET = "domain-secret-value-0123456789"


def account(engine, principal=STAFF, name="lab", cloud="lab", secret=SECRET):
    return service.create_account(engine, principal, name=name, provider_type="simulator",
                                  endpoint=f"sim://{cloud}", credentials={"api_key": secret})


def test_credentials_are_sealed_at_rest_and_open_only_with_the_key(engine):
    made = account(engine)
    with engine.db.read() as s:
        row = s.get(CloudAccount, made["id"])
        stored = bytes(row.credentials)
    assert SECRET.encode() not in stored and row.key_id == engine.resources_sealer.key_id
    assert engine.resources_sealer.open(stored) == {"api_key": SECRET}
    with pytest.raises(ValueError, match="do not decrypt"):
        secrets.Sealer("another-key-of-at-least-32-characters!").open(stored)
    assert (engine.settings.var_dir / secrets.KEY_FILE).exists() or engine.settings.credentials_key


def test_the_embedded_default_generates_its_key_once_and_keeps_it_private(tmp_path):
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/a.db", credentials_key="")
    first, again = secrets.sealer(settings), secrets.sealer(settings)
    key_file = tmp_path / secrets.KEY_FILE
    assert first.key_id == again.key_id and key_file.stat().st_mode & 0o777 == 0o600


def test_a_deployment_with_a_broker_and_no_key_refuses_to_start(tmp_path):
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/a.db",
                        broker_url="amqp://guest:guest@127.0.0.1:1//", credentials_key="")
    with pytest.raises(secrets.CredentialsKeyMissing, match="AICMP_CREDENTIALS_KEY is not set"):
        Engine(settings)
    with pytest.raises(ValueError, match="at least 32"):
        secrets.sealer(Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/b.db", credentials_key="short"))


def test_the_periodic_probe_claims_each_account_once_per_interval_and_alerts_on_failure(engine):
    good = account(engine, name="good")
    bad = account(engine, name="bad", secret="wrong-key-for-the-lab-cloud")
    names = {p.name for p in periodic_work(engine)}
    assert {"resources-probe", "resources-sync"} <= names
    assert service.probe_due(engine, 300) == 2
    assert service.probe_due(engine, 300) == 0  # both were probed within the interval
    with engine.db.read() as s:
        health = dict(s.execute(select(CloudAccount.name, CloudAccount.health)).all())
        alerts = s.scalars(select(AccountAlert)).all()
    assert health == {"good": "up", "bad": "down"}
    assert [(a.account_id, a.status, a.error_code) for a in alerts] == [(bad["id"], "open", "CONNECTOR_UNAUTHORISED")]
    assert service.probe_due(engine, 0) == 2
    with engine.db.read() as s:
        assert s.scalar(select(AccountAlert.occurrences)) == 2
    assert good["id"] != bad["id"]


def test_concurrent_probes_of_a_failing_account_keep_one_open_alert(engine):
    account(engine, name="good")  # makes the simulated cloud with the right key
    bad = account(engine, name="bad", secret="wrong-key-for-the-lab-cloud")
    barrier = threading.Barrier(4)

    def probe() -> None:
        barrier.wait()
        service.probe_account(engine, STAFF, bad["id"])

    threads = [threading.Thread(target=probe) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.db.read() as s:
        alerts = s.scalars(select(AccountAlert)).all()
    assert len(alerts) == 1 and alerts[0].occurrences == 4


def test_the_periodic_sync_builds_pools_and_marks_vanished_resources_deleted(engine):
    made = account(engine)
    state = engine.settings.var_dir / SIMULATOR_STATE
    from connectors import registry
    from connectors.base import ResourceSpec

    cloud = registry.connect("simulator", "sim://lab", None, {"api_key": SECRET}, {"state_path": str(state)})
    vm = cloud.create(ResourceSpec(name="vm", vcpu=2, memory_gib=Decimal(4)), "t1")
    assert service.sync_due(engine, 900) == 1 and service.sync_due(engine, 900) == 0
    cloud.delete(vm.provider_id)
    assert service.sync_due(engine, 0) == 1
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(ResourcePool)) == 2
        assert s.scalar(select(CloudResource.status)) == "deleted"
        assert s.scalar(select(CloudResource.pool_id)) is not None
    assert made["id"]


def test_placement_reads_platform_and_own_pools_with_prices_and_scores(engine):
    platform = account(engine, name="platform")
    alpha = account(engine, ALPHA, name="alpha", cloud="alpha-cloud", secret="alpha-secret-xyz")
    beta = account(engine, BETA, name="beta", cloud="beta-cloud", secret="beta-secret-xyz")
    for principal, acc in ((STAFF, platform), (ALPHA, alpha), (BETA, beta)):
        service.sync_account(engine, principal, acc["id"])
    pool = service.list_pools(engine, STAFF, account_id=platform["id"])[0][0]
    service.update_pool(engine, STAFF, pool["id"], unit_costs={"gpus:H100": "3.10"}, perf_scores={"H100": "97.5"})
    service.create_static_pool(engine, STAFF, name="rack", dimensions={"vcpu": {"total": "64"}})

    seen = service.pools_for_placement(engine, "t-alpha")
    owners = {(p.tenant_id, p.static) for p in seen}
    assert owners == {(None, False), ("t-alpha", False), (None, True)}
    priced = next(p for p in seen if p.pool_id == pool["id"])
    assert priced.unit_cost("gpus:H100") == Decimal("3.1") and priced.perf_score("H100") == Decimal("97.5")
    assert priced.free("gpus:H100") == Decimal(16) and priced.provider_type == "simulator"
    assert priced.dimensions["gpus:H100"].accelerator_kind == "gpu"
    assert all(p.tenant_id in (None, "t-alpha") for p in seen)
    assert {p.tenant_id for p in service.pools_for_placement(engine, None)} == {None}

    simulator.add_fault(engine.settings.var_dir / SIMULATOR_STATE, "lab", op="probe", nth=1, kind="timeout")
    service.probe_account(engine, STAFF, platform["id"])
    assert not any(p.account_id == platform["id"] for p in service.pools_for_placement(engine, "t-alpha"))
    assert any(p.account_id == platform["id"]
               for p in service.pools_for_placement(engine, "t-alpha", healthy_only=False))


def test_a_sync_keeps_prices_and_zeroes_a_model_no_longer_offered(engine):
    made = account(engine)
    service.sync_account(engine, STAFF, made["id"])
    pool_id = service.list_pools(engine, STAFF)[0][0]["id"]
    service.update_pool(engine, STAFF, pool_id, unit_costs={"gpus:A100": "1.5"})
    simulator.configure(engine.settings.var_dir / SIMULATOR_STATE, "lab", api_key=SECRET,
                        zones={"zone-a": simulator.Zone(vcpu=8, memory_gib=16, disk_gib=100, gpus={"H100": 1})})
    service.sync_account(engine, STAFF, made["id"])
    with engine.db.read() as s:
        a100 = s.get(PoolDimension, (pool_id, "gpus:A100"))
        zone_b = s.scalar(select(ResourcePool.present).where(ResourcePool.scope == "zone-b"))
    assert a100.total == 0 and a100.unit_cost == Decimal("1.5") and zone_b is False


def _as_instance(engine, tenant_id, *, internal=False):
    class Bound:
        def __enter__(self):
            self.tx = engine.db.write()
            self.tx.__enter__().execute(select(1))  # the transaction begins: its ports are bound
            self.scope = running_for(InstanceScope(tenant_id, "proc", "someone", "bk", internal=internal))
            self.scope.__enter__()
            return task_ports.current().resources

        def __exit__(self, *exc):
            self.scope.__exit__(*exc)
            return self.tx.__exit__(*exc)

    return Bound()


def test_the_port_reaches_only_the_instances_tenant_and_platform_accounts_from_platform_processes(engine):
    platform = account(engine, name="platform")
    alpha = account(engine, ALPHA, name="alpha", cloud="alpha-cloud", secret="alpha-secret-xyz")
    with _as_instance(engine, "t-alpha") as port:
        conn = port.connection(alpha["id"])
        assert conn["credentials"] == {"api_key": "alpha-secret-xyz"} and conn["options"]["state_path"]
        with pytest.raises(Refused) as refused:
            port.connection(platform["id"])
        assert refused.value.code == "UNKNOWN_ACCOUNT"
    with _as_instance(engine, "t-beta") as port, pytest.raises(Refused):
        port.connection(alpha["id"])
    with _as_instance(engine, "t-alpha", internal=True) as port:
        assert port.connection(platform["id"])["provider_type"] == "simulator"
        made = port.record(platform["id"], {"provider_id": "sim-x", "name": "x", "status": "running",
                                            "spec": {"name": "x", "vcpu": 2, "memory_gib": "4"},
                                            "client_token": "tok", "scope": "zone-a"})
    assert made["client_token"] == "tok"
    with engine.db.read() as s:
        assert s.scalar(select(CloudResource.tenant_id)) == "t-alpha"
    with _as_instance(engine, "t-beta", internal=True) as port, pytest.raises(Refused) as refused:
        port.target(made["resource_id"])
    assert refused.value.code == "UNKNOWN_RESOURCE"
    with _as_instance(engine, "t-alpha", internal=True) as port:
        assert port.target(made["resource_id"])["provider_id"] == "sim-x"


def test_tenant_b_cannot_read_or_change_tenant_as_rows_through_the_service(engine):
    from engine.errors import NotFound

    alpha = account(engine, ALPHA, name="alpha", cloud="alpha-cloud", secret="alpha-secret-xyz")
    service.sync_account(engine, ALPHA, alpha["id"])
    pool_id = service.list_pools(engine, ALPHA)[0][0]["id"]
    for call in (lambda: service.get_account(engine, BETA, alpha["id"]),
                 lambda: service.update_account(engine, BETA, alpha["id"], name="mine"),
                 lambda: service.delete_account(engine, BETA, alpha["id"]),
                 lambda: service.sync_account(engine, BETA, alpha["id"]),
                 lambda: service.probe_account(engine, BETA, alpha["id"]),
                 lambda: service.get_pool(engine, BETA, pool_id),
                 lambda: service.update_pool(engine, BETA, pool_id, unit_costs={"vcpu": "1"})):
        with pytest.raises(NotFound):
            call()
    assert service.get_account(engine, ALPHA, alpha["id"])["name"] == "alpha"


def test_concurrent_syncs_of_one_account_make_one_pool_per_scope(any_engine: Engine):
    made = account(any_engine)
    barrier, failures = threading.Barrier(3), []

    def sync() -> None:
        barrier.wait()
        try:
            service.sync_account(any_engine, STAFF, made["id"])
        except Exception as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=sync) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    with any_engine.db.read() as s:
        scopes = s.scalars(select(ResourcePool.scope).order_by(ResourcePool.scope)).all()
    assert scopes == ["zone-a", "zone-b"]


def test_var_dir_holds_the_simulator_state(engine):
    account(engine)
    assert Path(engine.settings.var_dir / SIMULATOR_STATE).exists()


def test_deleting_an_account_forgets_its_pools_resources_and_alerts_but_not_the_cloud(engine):
    made = account(engine)
    bad = account(engine, name="bad", secret="wrong-key-for-the-lab-cloud")
    service.probe_account(engine, STAFF, bad["id"])
    state = engine.settings.var_dir / SIMULATOR_STATE
    from connectors import registry
    from connectors.base import ResourceSpec

    registry.connect("simulator", "sim://lab", None, {"api_key": SECRET}, {"state_path": str(state)}).create(
        ResourceSpec(name="vm", vcpu=1, memory_gib=Decimal(1)), "keep")
    service.sync_account(engine, STAFF, made["id"])
    service.delete_account(engine, STAFF, made["id"])
    service.delete_account(engine, STAFF, bad["id"])
    with engine.db.read() as s:
        counts = [s.scalar(select(func.count()).select_from(m)) for m in (CloudAccount, ResourcePool, CloudResource,
                                                                           PoolDimension, AccountAlert)]
    assert counts == [0, 0, 0, 0, 0]
    assert simulator.count_resources(state, "lab") == 1
