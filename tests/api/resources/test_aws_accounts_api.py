"""An operator registers an AWS account (a real moto_server over HTTP), syncs it and sees the
region's pool with instance types and GPUs per model; the imported instance lands in the
inventory; the secret key never appears in a response, a log line or an audit row."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from sqlalchemy import select

from engine.models import AuditEntry
from tests import cloud_servers
from tests.api.conftest import login
from tests.servers import Server, ServerNotInstalled

V1 = "/api/v1"
SECRET = "aws-secret-access-key-that-must-not-leak"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    try:
        server = cloud_servers.start_moto(Path(tmp_path_factory.mktemp("moto-api")))
    except ServerNotInstalled as exc:
        if os.environ.get("AICMP_REQUIRE_SERVERS", "") not in ("", "0"):
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    yield server
    server.stop()


def test_an_aws_account_is_registered_synced_and_shows_its_region_pool(client, api_engine, moto, caplog):
    caplog.set_level(logging.DEBUG)
    ec2 = boto3.client("ec2", endpoint_url=moto.url, region_name="eu-west-1", aws_access_key_id="AKIAX",
                       aws_secret_access_key=SECRET)
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=ami, InstanceType="p5.48xlarge", MinCount=1, MaxCount=1,
                      TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "legacy"}]}])
    admin = login(client, "admin")
    made = client.post(f"{V1}/cloud-accounts", headers=admin, json={
        "name": "aws-eu", "provider_type": "aws", "endpoint": moto.url, "region": "eu-west-1",
        "credentials": {"access_key_id": "AKIAX", "secret_access_key": SECRET},
        "options": {"vcpu_limit": 1024, "gpu_limits": {"H100": 32}}})
    assert made.status_code == 201, made.get_json()
    account = made.get_json()
    assert account["credential_fields"] == ["access_key_id", "secret_access_key"]
    probed = client.post(f"{V1}/cloud-accounts/{account['id']}/probe", headers=admin).get_json()
    assert probed["health"] == "up"
    synced = client.post(f"{V1}/cloud-accounts/{account['id']}/sync", headers=admin)
    assert synced.status_code == 200, synced.get_json()
    (pool,) = client.get(f"{V1}/resource-pools?account_id={account['id']}", headers=admin).get_json()["items"]
    dims = {d["dimension"]: d for d in pool["dimensions"]}
    assert pool["scope"] == "eu-west-1" and pool["provider_type"] == "aws"
    assert dims["vcpu"]["total"] == "1024.000" and dims["vcpu"]["allocated"] == "192.000"
    assert dims["gpus:H100"]["total"] == "32.000" and dims["gpus:H100"]["allocated"] == "8.000"
    assert any(t["name"] == "p4d.24xlarge" and t["gpus_by_model"] == {"A100": 8} for t in pool["instance_types"])
    (legacy,) = client.get(f"{V1}/resources?account_id={account['id']}", headers=admin).get_json()["items"]
    assert legacy["name"] == "legacy" and legacy["pool_id"] == pool["id"] and legacy["gpus_by_model"] == {"H100": 8}
    with api_engine.db.read() as s:
        audit = json.dumps([a.detail for a in s.scalars(select(AuditEntry))], default=str)
    bodies = made.get_data(as_text=True) + synced.get_data(as_text=True) + json.dumps(probed)
    assert SECRET not in bodies and SECRET not in audit and SECRET not in caplog.text
