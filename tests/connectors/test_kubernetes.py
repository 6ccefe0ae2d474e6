"""The Kubernetes connector against a real kube-apiserver (with etcd and kube-controller-manager, no
scheduler, no kubelet: pods are made and stay Pending), through the official client."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from connectors import errors
from connectors.base import ResourceSpec, Status
from connectors.kubernetes import TOKEN_ANNOTATION, TOKEN_LABEL, KubernetesConnector, token_label
from connectors.registry import connect
from tests.cloud_servers import KUBE_TOKEN, free_port
from tests.servers import Server

IMAGE = "registry.example/train:1"
# The test cluster's certificate is self-signed (verify_tls=False); the warning says only that.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def _connect(url: str, token: str = KUBE_TOKEN, **options: Any) -> KubernetesConnector:
    conn = connect("kubernetes", url, "gpu-cluster", {"token": token},
                   {"verify_tls": False, "timeout": 10, "image": IMAGE, **options})
    assert isinstance(conn, KubernetesConnector)
    return conn


def _eventually(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not reached in {timeout} s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster(kube_server: Server) -> str:
    """Two nodes as kubelets would register them: 8 A100s on one, none on the other."""
    with _connect(kube_server.url) as conn:
        core = conn._core()
        for name, gpus, product in (("gpu-node-0", "8", "NVIDIA-A100-SXM4-80GB"), ("cpu-node-0", None, None)):
            capacity = {"cpu": "64", "memory": "512Gi", "ephemeral-storage": "1000Gi", "pods": "110"}
            if gpus:
                capacity["nvidia.com/gpu"] = gpus
            labels = {"kubernetes.io/hostname": name, **({"nvidia.com/gpu.product": product} if product else {})}
            core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
                              "status": {"capacity": capacity, "allocatable": capacity}})
    return kube_server.url


@pytest.fixture
def kube(cluster: str) -> Iterator[KubernetesConnector]:
    with _connect(cluster) as conn:
        yield conn


def _namespace(conn: KubernetesConnector, quota: dict[str, str] | None = None) -> str:
    name = f"tenant-{uuid.uuid4().hex[:8]}"
    conn.ensure_namespace(name, quota or {"requests.nvidia.com/gpu": "4"})
    return name


def quota_view(quota: dict[str, Any]) -> dict[str, Any]:
    return {"hard": quota["hard"], "used": quota["used"]}


def _token() -> str:
    return f"tok:{uuid.uuid4().hex}"


def test_probe_reads_the_version_with_the_token(kube: KubernetesConnector) -> None:
    result = kube.probe()
    assert result.ok and result.version.startswith("v1.20")


def test_a_tenant_namespace_gets_a_resource_quota_the_controller_counts(kube: KubernetesConnector) -> None:
    ns = _namespace(kube, {"requests.nvidia.com/gpu": "4"})
    quota = _eventually(lambda: (q := kube.namespace_quota(ns))["used"] and q, what="quota status")
    assert quota["hard"] == {"requests.nvidia.com/gpu": "4"} and quota["used"] == {"requests.nvidia.com/gpu": "0"}
    assert kube.capacity()[0].details["tenant_quotas"][ns] == quota_view(quota)
    again = kube.ensure_namespace(ns, {"requests.nvidia.com/gpu": "6"})  # idempotent, updates the limit
    assert again["hard"] == {"requests.nvidia.com/gpu": "6"}


def test_a_create_retried_with_the_same_client_token_makes_one_workload(kube: KubernetesConnector) -> None:
    ns, token = _namespace(kube), _token()
    spec = ResourceSpec(name="train-a", vcpu=4, memory_gib=Decimal(16), gpus_by_model={"A100": 1}, placement=ns,
                        tags={"owner": "t1"})
    first = kube.create(spec, token)
    again = kube.create(spec, token)
    assert again.provider_id == first.provider_id == f"{ns}/deployment/train-a"
    assert first.client_token == token and first.status is Status.PENDING
    assert (first.spec.vcpu, first.spec.memory_gib, first.spec.gpus_by_model) == (4, Decimal(16), {"A100": 1})
    assert first.spec.tags == {"owner": "t1"}
    assert [r.provider_id for r in kube.list_resources() if r.client_token == token] == [first.provider_id]
    deployment = kube._apps().read_namespaced_deployment(name="train-a", namespace=ns)
    assert deployment.metadata.labels[TOKEN_LABEL] == token_label(token)
    assert deployment.metadata.annotations[TOKEN_ANNOTATION] == token
    limits = deployment.spec.template.spec.containers[0].resources.limits
    assert limits == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}  # the API server's canonical form


def test_listing_can_be_limited_to_the_accounts_namespaces(kube: KubernetesConnector, cluster: str) -> None:
    mine, other = _namespace(kube), _namespace(kube)
    kube.create(ResourceSpec(name="in-mine", placement=mine), _token())
    kube.create(ResourceSpec(name="in-other", placement=other), _token())
    with _connect(cluster, namespaces=[mine]) as scoped:
        assert [r.provider_id for r in scoped.list_resources()] == [f"{mine}/deployment/in-mine"]


def test_the_same_token_for_another_name_is_a_conflict(kube: KubernetesConnector) -> None:
    ns, token = _namespace(kube), _token()
    kube.create(ResourceSpec(name="one", placement=ns), token)
    with pytest.raises(errors.Conflict):
        kube.create(ResourceSpec(name="two", placement=ns), token)


def test_pods_without_a_scheduler_stay_pending_and_are_reported_so(kube: KubernetesConnector) -> None:
    ns = _namespace(kube)
    # the quota's usage is kept from the pod's admission on only once the controller has set its status
    _eventually(lambda: kube.namespace_quota(ns)["used"], what="quota status")
    made = kube.create(ResourceSpec(name="waits", gpus_by_model={"A100": 2}, placement=ns), _token())
    metrics = _eventually(lambda: {m.name: m.value for m in kube.metrics(made.provider_id)}, what="a pod")
    assert metrics == {"pods_pending": 1}
    assert kube.get(made.provider_id).status is Status.PENDING  # never claimed running
    (cluster,) = kube.capacity()
    assert Decimal(cluster.details["pending_gpus"]) >= 2  # demand, not allocation
    quota = _eventually(lambda: kube.namespace_quota(ns)["used"].get("requests.nvidia.com/gpu") == "2" or None,
                        what="quota usage of the pending pod")
    assert quota


def test_a_workload_over_its_namespace_quota_reports_the_quota_error(kube: KubernetesConnector) -> None:
    ns = _namespace(kube, {"requests.nvidia.com/gpu": "1"})
    _eventually(lambda: kube.namespace_quota(ns)["used"], what="quota status")
    made = kube.create(ResourceSpec(name="too-big", gpus_by_model={"A100": 2}, placement=ns), _token())
    failed = _eventually(lambda: (r := kube.get(made.provider_id)).status is Status.ERROR and r, what="quota error")
    assert "exceeded quota" in failed.details["error"]
    assert kube.namespace_quota(ns)["used"] == {"requests.nvidia.com/gpu": "0"}


def test_power_operations_scale_and_restart(kube: KubernetesConnector) -> None:
    ns = _namespace(kube)
    made = kube.create(ResourceSpec(name="svc", vcpu=1, placement=ns, options={"replicas": 2}), _token())
    assert kube.start(made.provider_id).spec == made.spec  # wanted replicas already set: unchanged
    assert kube.stop(made.provider_id).status in (Status.STOPPING, Status.STOPPED)
    _eventually(lambda: kube.get(made.provider_id).status is Status.STOPPED, what="stopped")
    assert kube.stop(made.provider_id).status is Status.STOPPED  # idempotent
    with pytest.raises(errors.Conflict):
        kube.reboot(made.provider_id)
    started = kube.start(made.provider_id)
    assert started.details["replicas"] == 2 and started.status is Status.PENDING
    rebooted = kube.reboot(made.provider_id)
    deployment = kube._apps().read_namespaced_deployment(name="svc", namespace=ns)
    assert "kubectl.kubernetes.io/restartedAt" in deployment.spec.template.metadata.annotations
    assert rebooted.status in (Status.PENDING, Status.REBOOTING)


def test_resize_changes_the_container_limits(kube: KubernetesConnector) -> None:
    ns = _namespace(kube)
    made = kube.create(ResourceSpec(name="grow", vcpu=1, memory_gib=Decimal(2), placement=ns), _token())
    resized = kube.resize(made.provider_id, ResourceSpec(name="grow", vcpu=8, memory_gib=Decimal("4.5"),
                                                         gpus_by_model={"A100": 1}))
    assert (resized.spec.vcpu, resized.spec.memory_gib, resized.spec.gpus_by_model) == (8, Decimal("4.5"), {"A100": 1})


def test_delete_removes_the_workload(kube: KubernetesConnector) -> None:
    ns = _namespace(kube)
    made = kube.create(ResourceSpec(name="bye", placement=ns), _token())
    assert kube.delete(made.provider_id).status in (Status.DELETED, Status.DELETING)
    def gone() -> bool:
        try:
            kube.get(made.provider_id)
        except errors.NotFound:
            return True
        return False

    _eventually(gone, what="gone")
    with pytest.raises(errors.NotFound):
        kube.delete(made.provider_id)


def test_capacity_is_node_allocatable_with_bound_pods_allocated(kube: KubernetesConnector) -> None:
    ns = _namespace(kube)
    before = kube.capacity()[0]
    # A pod bound to a node (what the scheduler would have done) counts as allocated.
    kube._core().create_namespaced_pod(namespace=ns, body={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bound"},
        "spec": {"nodeName": "gpu-node-0", "containers": [{"name": "c", "image": IMAGE, "resources": {
            "limits": {"cpu": "6", "memory": "8Gi", "nvidia.com/gpu": "3"}}}]}})
    (after,) = kube.capacity()
    assert (after.scope, after.kind) == ("gpu-cluster", "cluster")
    assert after.vcpu.total == 128 and after.memory_gib.total == 1024
    assert after.vcpu.allocated - before.vcpu.allocated == 6
    assert after.memory_gib.allocated - before.memory_gib.allocated == 8
    (a100,) = after.accelerators
    assert (a100.model, a100.amounts.total) == ("A100", 8)
    assert a100.amounts.allocated - before.accelerators[0].amounts.allocated == 3
    assert set(after.details["nodes"]) >= {"gpu-node-0", "cpu-node-0"}


def test_a_gpu_model_no_node_has_is_an_invalid_spec(kube: KubernetesConnector) -> None:
    with pytest.raises(errors.InvalidSpec, match="H100"):
        kube.create(ResourceSpec(name="nope", gpus_by_model={"H100": 1}, placement=_namespace(kube)), _token())
    with pytest.raises(errors.InvalidSpec, match="name"):
        kube.create(ResourceSpec(name="Not_A_Name"), _token())


def test_a_job_is_created_once_and_cannot_be_stopped(kube: KubernetesConnector) -> None:
    ns, token = _namespace(kube), _token()
    spec = ResourceSpec(name="batch", gpus_by_model={"A100": 1}, placement=ns, options={"kind": "job"})
    job = kube.create(spec, token)
    assert kube.create(spec, token).provider_id == job.provider_id == f"{ns}/job/batch"
    assert job.status is Status.PENDING
    with pytest.raises(errors.Unsupported):
        kube.stop(job.provider_id)
    assert kube.delete(job.provider_id).status in (Status.DELETED, Status.DELETING)


def test_bad_token_is_unauthorised_and_never_echoed(cluster: str) -> None:
    wrong = "not-the-token-4711"
    with _connect(cluster, wrong) as conn, pytest.raises(errors.Unauthorised) as caught:
        conn.probe()
    assert wrong not in str(caught.value) and wrong not in repr(caught.value.as_dict())


def test_an_api_server_that_never_answers_is_a_timeout(black_hole: str) -> None:
    began = time.monotonic()
    with _connect(f"https://{black_hole}", timeout=1) as conn, pytest.raises(errors.Timeout) as caught:
        conn.probe()
    assert caught.value.retryable and time.monotonic() - began < 10


def test_an_unreachable_endpoint_is_unreachable() -> None:
    with _connect(f"https://127.0.0.1:{free_port()}") as conn, pytest.raises(errors.Unreachable) as caught:
        conn.probe()
    assert caught.value.retryable
