"""The AWS connector against a real moto_server on 127.0.0.1 (boto3 over HTTP): create, a retried
create with the same client token, power operations, resize, delete, capacity, an unreachable
endpoint and bad credentials."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal

import pytest

from connectors import errors, registry
from connectors.base import ResourceSpec, Status
from tests import cloud_servers
from tests.servers import Server, ServerNotInstalled

CREDS = {"access_key_id": "AKIATESTING", "secret_access_key": "moto-secret-never-printed"}


def _start(**kw) -> Server:
    try:
        return cloud_servers.start_moto(cloud_servers.Path(os.environ.get("TMPDIR", "/tmp")) / f"moto-{os.getpid()}",
                                        **kw)
    except ServerNotInstalled as exc:
        if os.environ.get("AICMP_REQUIRE_SERVERS", "") not in ("", "0"):
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def moto() -> Iterator[Server]:
    server = _start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto):
    connector = registry.connect("aws", moto.url, "us-east-1", CREDS,
                                 {"vcpu_limit": 256, "gpu_limits": {"A100": 16}, "timeout_s": 10})
    yield connector
    for r in connector.list_resources():  # the server is the session's: leave it empty
        connector.delete(r.provider_id)
    connector.close()


@pytest.fixture
def ami(aws) -> str:
    return aws.ec2.describe_images()["Images"][0]["ImageId"]


def test_create_then_retry_with_the_same_token_gives_one_instance(aws, ami):
    made = aws.create(ResourceSpec(name="train-1", flavor="p4d.24xlarge", image=ami, tags={"team": "ml"}), "tok-a")
    again = aws.create(ResourceSpec(name="train-1", flavor="p4d.24xlarge", image=ami), "tok-a")
    assert again.provider_id == made.provider_id and made.client_token == "tok-a"
    assert [r.provider_id for r in aws.list_resources()] == [made.provider_id]
    assert made.spec.gpus_by_model == {"A100": 8} and made.spec.vcpu == 96 and made.spec.tags == {"team": "ml"}
    assert made.status in (Status.PENDING, Status.RUNNING) and made.scope == "us-east-1"
    with pytest.raises(errors.Conflict):
        aws.create(ResourceSpec(name="train-1", flavor="m5.large", image=ami), "tok-a")


def test_power_operations_resize_and_delete(aws, ami):
    vm = aws.create(ResourceSpec(name="web", flavor="t3.micro", image=ami), "tok-b").provider_id
    with pytest.raises(errors.Conflict):
        aws.resize(vm, ResourceSpec(name="web", flavor="m5.large"))
    assert aws.stop(vm).status in (Status.STOPPING, Status.STOPPED)
    assert aws.stop(vm).status in (Status.STOPPING, Status.STOPPED)
    resized = aws.resize(vm, ResourceSpec(name="web", flavor="m5.large"))
    assert resized.spec.flavor == "m5.large" and resized.spec.vcpu == 2
    assert aws.start(vm).status in (Status.PENDING, Status.RUNNING)
    assert aws.reboot(vm).status == Status.RUNNING
    assert aws.delete(vm).status in (Status.DELETING, Status.DELETED)
    assert aws.delete(vm).status in (Status.DELETING, Status.DELETED)
    assert aws.list_resources() == []
    with pytest.raises(errors.Conflict):
        aws.start(vm)
    with pytest.raises(errors.NotFound):
        aws.get("i-0123456789abcdef0")


def test_capacity_reports_the_region_with_instance_types_and_gpus_per_model(aws, ami):
    aws.create(ResourceSpec(name="g", flavor="p4d.24xlarge", image=ami), "tok-c")
    (region,) = aws.capacity()
    dims = region.dimensions()
    assert region.scope == "us-east-1" and dims["vcpu"].total == 256 and dims["vcpu"].allocated == 96
    assert dims["gpus:A100"].total == 16 and dims["gpus:A100"].allocated == 8
    types = {t.name: t for t in region.instance_types}
    assert types["p5.48xlarge"].gpus_by_model == {"H100": 8} and types["m5.large"].memory_gib == Decimal(8)


def test_bad_input_is_invalid_spec(aws):
    with pytest.raises(errors.InvalidSpec):
        aws.create(ResourceSpec(name="x", flavor="t3.micro"), "tok-d")  # no AMI
    with pytest.raises(errors.InvalidSpec):
        aws.create(ResourceSpec(name="x", flavor="t3.micro", image="ami-x"), "bad token")


def test_an_unreachable_endpoint_is_unreachable():
    port = cloud_servers.free_port()
    nowhere = registry.connect("aws", f"http://127.0.0.1:{port}", "us-east-1", CREDS,
                               {"timeout_s": 2, "max_attempts": 1})
    with pytest.raises(errors.Unreachable) as exc:
        nowhere.probe()
    assert exc.value.retryable and CREDS["secret_access_key"] not in str(exc.value)


def test_bad_credentials_are_unauthorised():
    server = _start(iam_auth=True)
    try:
        refused = registry.connect("aws", server.url, "us-east-1", CREDS, {"max_attempts": 1})
        with pytest.raises(errors.Unauthorised) as exc:
            refused.probe()
        assert CREDS["secret_access_key"] not in str(exc.value)
    finally:
        server.stop()


def test_probe_answers_with_the_zones(aws):
    result = aws.probe()
    assert result.ok and result.latency_ms is not None and "us-east-1a" in result.details["zones"]
