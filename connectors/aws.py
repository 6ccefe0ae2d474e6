"""AWS EC2 through boto3: instances are resources, the region is the capacity scope, instance
types are pool data.

``credentials``: ``access_key_id``, ``secret_access_key`` (``session_token`` optional).
``region``: required. ``endpoint``: optional ``endpoint_url`` (a moto server in tests, a VPC
endpoint). ``options``: ``timeout_s`` (connect and read timeout of one call, default 20),
``max_attempts`` (botocore's own retries, default 2), ``image`` (default AMI), ``subnet_id``,
``vcpu_limit`` and ``gpu_limits`` ({"A100": 16}): the account's capacity where the Service Quotas
API does not answer (EC2 has no capacity API; without either the total is unknown and reported
as what is allocated), ``instance_types`` (the types listed as pool data).

Idempotency: ``create`` first looks for an instance tagged ``aicmp:client-token`` = token (any
state but terminated), then calls ``RunInstances`` with ``ClientToken`` = token too, so EC2 itself
returns the same instance for a repeat within its idempotency window.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from connectors import errors
from connectors.base import (
    AcceleratorCapacity,
    Amounts,
    Capacity,
    Connector,
    InstanceType,
    Metric,
    ProbeResult,
    Resource,
    ResourceSpec,
    Status,
    accelerator_profile,
    check_client_token,
    normalise_gpu_model,
)

TOKEN_TAG = "aicmp:client-token"  # noqa: S105 - a tag name, not a secret
DEFAULT_INSTANCE_TYPES = ("t3.micro", "m5.large", "m5.4xlarge", "g5.xlarge", "p4d.24xlarge", "p5.48xlarge")
VCPU_QUOTA = ("ec2", "L-1216C47A")  # Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances, vCPUs
STATES = {"pending": Status.PENDING, "running": Status.RUNNING, "stopping": Status.STOPPING,
          "stopped": Status.STOPPED, "shutting-down": Status.DELETING, "terminated": Status.DELETED}
AUTH_CODES = {"AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId", "SignatureDoesNotMatch",
              "AccessDenied", "AccessDeniedException", "ExpiredToken", "OptInRequired"}
QUOTA_CODES = {"InstanceLimitExceeded", "VcpuLimitExceeded", "InsufficientInstanceCapacity",
               "MaxSpotInstanceCountExceeded"}
THROTTLE_CODES = {"RequestLimitExceeded", "Throttling", "ThrottlingException", "ServiceUnavailable", "Unavailable",
                  "InternalError"}
CONFLICT_CODES = {"IncorrectInstanceState", "IdempotentParameterMismatch", "IncorrectState"}
SPEC_CODES = {"InvalidAMIID.NotFound", "InvalidAMIID.Malformed", "InvalidParameterValue", "InvalidParameterCombination",
              "InvalidInstanceType", "Unsupported", "InvalidSubnetID.NotFound", "MissingParameter"}


def _gib(mib: int | float | None) -> Decimal:
    return (Decimal(int(mib or 0)) / Decimal(1024)).quantize(Decimal("0.001"))


class AwsConnector(Connector):
    provider_type = "aws"
    credential_fields = ("access_key_id", "secret_access_key")
    endpoint_required = False

    def __init__(self, *, endpoint: str | None, region: str | None, credentials: Mapping[str, Any],
                 options: Mapping[str, Any] | None = None) -> None:
        super().__init__(endpoint=endpoint, region=region, credentials=credentials, options=options)
        if not region:
            raise errors.InvalidSpec("aws needs a region", provider=self.provider_type)
        timeout = float(self.options.get("timeout_s", 20))
        self._config = Config(connect_timeout=timeout, read_timeout=timeout,
                              retries={"max_attempts": int(self.options.get("max_attempts", 2)), "mode": "standard"})
        self._session = boto3.session.Session(
            aws_access_key_id=self._credentials["access_key_id"],
            aws_secret_access_key=self._credentials["secret_access_key"],
            aws_session_token=self._credentials.get("session_token") or None, region_name=region)
        self._clients: dict[str, Any] = {}
        self._types: dict[str, dict[str, Any]] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint or None,
                                                          config=self._config)
        return self._clients[service]

    @property
    def ec2(self) -> Any:
        return self._client("ec2")

    # -- errors ------------------------------------------------------------------------------------

    @contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Translate botocore's failures into ``connectors.errors`` (messages carry no secrets:
        botocore never puts the secret key in one)."""
        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = f"{what}: {code}: {exc.response.get('Error', {}).get('Message', '')}"
            details = {"aws_code": code}
            if code in AUTH_CODES:
                raise errors.Unauthorised(message, provider=self.provider_type, details=details) from exc
            if code in QUOTA_CODES:
                raise errors.ProviderQuotaExceeded(message, provider=self.provider_type, details=details) from exc
            if code.startswith("InvalidInstanceID"):
                raise errors.NotFound(message, provider=self.provider_type, details=details) from exc
            if code in CONFLICT_CODES:
                raise errors.Conflict(message, provider=self.provider_type, details=details) from exc
            if code in SPEC_CODES or code.startswith("Invalid"):
                raise errors.InvalidSpec(message, provider=self.provider_type, details=details) from exc
            if code in THROTTLE_CODES or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                raise errors.Unreachable(message, provider=self.provider_type, details=details) from exc
            raise errors.ConnectorError(message, provider=self.provider_type, details=details) from exc
        except (ConnectTimeoutError, ReadTimeoutError) as exc:
            raise errors.Timeout(f"{what}: {exc}", provider=self.provider_type) from exc
        except EndpointConnectionError as exc:
            raise errors.Unreachable(f"{what}: {exc}", provider=self.provider_type) from exc
        except NoCredentialsError as exc:
            raise errors.Unauthorised(f"{what}: no credentials", provider=self.provider_type) from exc
        except BotoCoreError as exc:
            raise errors.Unreachable(f"{what}: {type(exc).__name__}: {exc}", provider=self.provider_type) from exc

    # -- instance types -----------------------------------------------------------------------------

    def _type_info(self, names: list[str]) -> dict[str, dict[str, Any]]:
        wanted = [n for n in dict.fromkeys(names) if n and n not in self._types]
        if wanted:
            with self._calling("DescribeInstanceTypes"):
                for i in range(0, len(wanted), 100):
                    resp = self.ec2.describe_instance_types(InstanceTypes=wanted[i:i + 100])
                    for info in resp.get("InstanceTypes", []):
                        self._types[info["InstanceType"]] = info
        return {n: self._types[n] for n in names if n in self._types}

    @staticmethod
    def _gpus(info: Mapping[str, Any] | None) -> dict[str, int]:
        out: dict[str, int] = {}
        for gpu in (info or {}).get("GpuInfo", {}).get("Gpus", []):
            model = normalise_gpu_model(str(gpu.get("Name", "GPU")))
            out[model] = out.get(model, 0) + int(gpu.get("Count", 0))
        return out

    def _instance_type(self, name: str, info: Mapping[str, Any]) -> InstanceType:
        disk = info.get("InstanceStorageInfo", {}).get("TotalSizeInGB", 0)
        return InstanceType(name, int(info.get("VCpuInfo", {}).get("DefaultVCpus", 0)),
                            _gib(info.get("MemoryInfo", {}).get("SizeInMiB")), Decimal(int(disk or 0)),
                            self._gpus(info))

    # -- instances ------------------------------------------------------------------------------------

    def _resource(self, inst: Mapping[str, Any]) -> Resource:
        tags = {t["Key"]: t["Value"] for t in inst.get("Tags", []) or []}
        itype = inst.get("InstanceType", "")
        info = self._type_info([itype]).get(itype)
        size = self._instance_type(itype, info) if info else InstanceType(itype, 0, Decimal(0))
        disk = Decimal(0)
        spec = ResourceSpec(name=tags.get("Name") or inst["InstanceId"], vcpu=size.vcpu, memory_gib=size.memory_gib,
                            disk_gib=disk, gpus_by_model=dict(size.gpus_by_model), flavor=itype,
                            image=inst.get("ImageId"), placement=inst.get("Placement", {}).get("AvailabilityZone"),
                            network=inst.get("SubnetId"),
                            tags={k: v for k, v in tags.items() if not k.startswith("aicmp:") and k != "Name"})
        launched = inst.get("LaunchTime")
        if isinstance(launched, datetime):
            launched = launched.replace(tzinfo=UTC) if launched.tzinfo is None else launched.astimezone(UTC)
        addresses = tuple(a for a in (inst.get("PrivateIpAddress"), inst.get("PublicIpAddress")) if a)
        return Resource(provider_id=inst["InstanceId"], name=spec.name,
                        status=STATES.get(inst.get("State", {}).get("Name", ""), Status.UNKNOWN), spec=spec,
                        client_token=tags.get(TOKEN_TAG) or inst.get("ClientToken") or None,
                        scope=self.region, addresses=addresses,
                        created_at=launched if isinstance(launched, datetime) else None,
                        details={"availability_zone": spec.placement, "state_reason":
                                 inst.get("StateReason", {}).get("Message")})

    def _describe(self, **kwargs: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with self._calling("DescribeInstances"):
            for page in self.ec2.get_paginator("describe_instances").paginate(**kwargs):
                for reservation in page.get("Reservations", []):
                    out.extend(reservation.get("Instances", []))
        return out

    def _one(self, provider_id: str) -> dict[str, Any]:
        found = self._describe(InstanceIds=[provider_id])
        if not found:
            raise errors.NotFound(f"no instance {provider_id}", provider=self.provider_type)
        return found[0]

    # -- the interface ------------------------------------------------------------------------------------

    def probe(self) -> ProbeResult:
        began = time.monotonic()
        with self._calling("DescribeRegions"):
            regions = [r["RegionName"] for r in self.ec2.describe_regions().get("Regions", [])]
        with self._calling("DescribeAvailabilityZones"):
            zones = [z["ZoneName"] for z in self.ec2.describe_availability_zones().get("AvailabilityZones", [])]
        ok = self.region in regions
        return ProbeResult(ok=ok, message=f"{len(zones)} availability zones" if ok else
                           f"region {self.region} is not offered to this account", version="ec2/2016-11-15",
                           latency_ms=round((time.monotonic() - began) * 1000), details={"zones": zones})

    def _vcpu_limit(self) -> Decimal | None:
        if self.options.get("vcpu_limit") is not None:
            return Decimal(str(self.options["vcpu_limit"]))
        try:
            with self._calling("GetServiceQuota"):
                quota = self._client("service-quotas").get_service_quota(ServiceCode=VCPU_QUOTA[0],
                                                                         QuotaCode=VCPU_QUOTA[1])
            return Decimal(str(quota["Quota"]["Value"]))
        except (errors.Unauthorised, errors.Unreachable, errors.Timeout):
            raise
        except errors.ConnectorError:  # no such quota here (moto, some partitions): the limit is unknown
            return None

    def capacity(self) -> list[Capacity]:
        live = [i for i in self._describe() if i.get("State", {}).get("Name") != "terminated"]
        infos = self._type_info([i.get("InstanceType", "") for i in live])
        running = [i for i in live if i.get("State", {}).get("Name") in ("pending", "running")]
        vcpus = sum((Decimal(infos[i["InstanceType"]]["VCpuInfo"]["DefaultVCpus"]) for i in running
                     if i["InstanceType"] in infos), Decimal(0))
        memory = sum((_gib(infos[i["InstanceType"]]["MemoryInfo"]["SizeInMiB"]) for i in running
                      if i["InstanceType"] in infos), Decimal(0))
        gpus: dict[str, int] = {}
        for inst in running:
            for model, count in self._gpus(infos.get(inst["InstanceType"])).items():
                gpus[model] = gpus.get(model, 0) + count
        limit = self._vcpu_limit()
        limits = {str(k): int(v) for k, v in (self.options.get("gpu_limits") or {}).items()}
        accelerators = []
        for model in sorted(set(gpus) | set(limits)):
            kind, use = accelerator_profile(model)
            used = Decimal(gpus.get(model, 0))
            accelerators.append(AcceleratorCapacity(model, Amounts(Decimal(limits.get(model, used)), used, used),
                                                    kind, use))
        names = list(self.options.get("instance_types") or DEFAULT_INSTANCE_TYPES)
        types = tuple(self._instance_type(n, info) for n, info in self._type_info(names).items())
        return [Capacity(scope=str(self.region), kind="region",
                         vcpu=Amounts(limit if limit is not None else vcpus, vcpus, vcpus),
                         memory_gib=Amounts(memory, memory, memory), accelerators=tuple(accelerators),
                         instance_types=types,
                         details={"vcpu_limit": "unknown" if limit is None else str(limit),
                                  "instances": len(live)})]

    def list_resources(self) -> list[Resource]:
        return [self._resource(i) for i in self._describe() if i.get("State", {}).get("Name") != "terminated"]

    def _by_token(self, token: str) -> dict[str, Any] | None:
        found = [i for i in self._describe(Filters=[{"Name": f"tag:{TOKEN_TAG}", "Values": [token]}])
                 if i.get("State", {}).get("Name") != "terminated"]
        return found[0] if found else None

    def create(self, spec: ResourceSpec, client_token: str) -> Resource:
        try:
            check_client_token(client_token)
        except ValueError as exc:
            raise errors.InvalidSpec(str(exc), provider=self.provider_type) from exc
        existing = self._by_token(client_token)
        if existing is not None:
            if spec.flavor and existing.get("InstanceType") != spec.flavor:
                raise errors.Conflict(f"client token {client_token} was used for a {existing.get('InstanceType')}",
                                      provider=self.provider_type)
            return self._resource(existing)
        if not spec.flavor:
            raise errors.InvalidSpec("aws needs spec.flavor (an instance type)", provider=self.provider_type)
        image = spec.image or self.options.get("image")
        if not image:
            raise errors.InvalidSpec("aws needs spec.image (an AMI id) or options.image", provider=self.provider_type)
        tags = [{"Key": "Name", "Value": spec.name}, {"Key": TOKEN_TAG, "Value": client_token},
                *({"Key": k, "Value": v} for k, v in spec.tags.items())]
        args: dict[str, Any] = {"ImageId": image, "InstanceType": spec.flavor, "MinCount": 1, "MaxCount": 1,
                                "ClientToken": client_token,
                                "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}]}
        if spec.placement:
            args["Placement"] = {"AvailabilityZone": spec.placement}
        subnet = spec.network or self.options.get("subnet_id")
        if subnet:
            args["SubnetId"] = subnet
        with self._calling("RunInstances"):
            resp = self.ec2.run_instances(**args)
        return self._resource(resp["Instances"][0])

    def get(self, provider_id: str) -> Resource:
        return self._resource(self._one(provider_id))

    def _power(self, call: str, provider_id: str, done: tuple[str, ...], allowed: tuple[str, ...]) -> Resource:
        inst = self._one(provider_id)
        state = inst.get("State", {}).get("Name", "")
        if state in done:
            return self._resource(inst)
        if state not in allowed:
            raise errors.Conflict(f"cannot {call} {provider_id}: it is {state}", provider=self.provider_type,
                                  details={"status": state})
        with self._calling(call):
            getattr(self.ec2, call)(InstanceIds=[provider_id])
        return self.get(provider_id)

    def start(self, provider_id: str) -> Resource:
        return self._power("start_instances", provider_id, ("running", "pending"), ("stopped",))

    def stop(self, provider_id: str) -> Resource:
        return self._power("stop_instances", provider_id, ("stopped", "stopping"), ("running", "pending"))

    def reboot(self, provider_id: str) -> Resource:
        return self._power("reboot_instances", provider_id, (), ("running",))

    def resize(self, provider_id: str, spec: ResourceSpec) -> Resource:
        if not spec.flavor:
            raise errors.InvalidSpec("aws resizes to spec.flavor (an instance type)", provider=self.provider_type)
        inst = self._one(provider_id)
        state = inst.get("State", {}).get("Name", "")
        if state != "stopped":
            raise errors.Conflict(f"resize needs {provider_id} stopped; it is {state}", provider=self.provider_type,
                                  details={"status": state})
        if inst.get("InstanceType") != spec.flavor:
            with self._calling("ModifyInstanceAttribute"):
                self.ec2.modify_instance_attribute(InstanceId=provider_id, InstanceType={"Value": spec.flavor})
        return self.get(provider_id)

    def delete(self, provider_id: str) -> Resource:
        inst = self._one(provider_id)
        if inst.get("State", {}).get("Name") in ("terminated", "shutting-down"):
            return self._resource(inst)
        with self._calling("TerminateInstances"):
            self.ec2.terminate_instances(InstanceIds=[provider_id])
        return self.get(provider_id)

    def metrics(self, provider_id: str | None = None, since: datetime | None = None) -> list[Metric]:
        """CloudWatch ``CPUUtilization`` averages (5 minutes) of one instance, or of every live one."""
        ids = [provider_id] if provider_id else [r.provider_id for r in self.list_resources()]
        end = datetime.now(UTC)
        start = since or end - timedelta(hours=1)
        out: list[Metric] = []
        for iid in ids:
            with self._calling("GetMetricStatistics"):
                resp = self._client("cloudwatch").get_metric_statistics(
                    Namespace="AWS/EC2", MetricName="CPUUtilization", Dimensions=[{"Name": "InstanceId", "Value": iid}],
                    StartTime=start, EndTime=end, Period=300, Statistics=["Average"])
            for point in sorted(resp.get("Datapoints", []), key=lambda p: p["Timestamp"]):
                out.append(Metric("cpu_utilisation", Decimal(str(point["Average"])), "percent", point["Timestamp"],
                                  iid))
        return out

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
