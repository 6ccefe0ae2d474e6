"""Kubernetes connector: one cluster, through the official Python client, with GPU workloads.

- **probe**: ``GET /version`` with the account's bearer token.
- **capacity**: one ``cluster`` scope (named by the account's region, else ``cluster``): nodes'
  *allocatable* CPU, memory and ephemeral storage as totals (capacity in ``details``), the requests
  of pods bound to nodes (not finished) as allocated, ``nvidia.com/gpu`` per accelerator model (the
  node label ``nvidia.com/gpu.product`` that NVIDIA's GPU feature discovery sets, or the
  ``gpu_model_label`` option) with bound pods' GPU limits as allocated. Pods waiting for a node are
  demand, not allocation: ``details["pending_gpus"]``. Each tenant namespace's ResourceQuota
  (hard and used) is in ``details["tenant_quotas"]``.
- **tenants**: ``ensure_namespace(name, quota)`` makes (or updates) a tenant's namespace and its
  ResourceQuota (``requests.nvidia.com/gpu``, ``limits.cpu``, ...).
- **resources**: GPU workloads as Deployments (``spec.options["kind"] = "job"`` for a Job), in
  the namespace ``spec.placement`` (else the ``namespace`` option, else ``default``), one container
  of ``spec.image`` with limits (and equal requests) of ``spec.vcpu`` CPU, ``spec.memory_gib`` Gi
  and ``nvidia.com/gpu``; a GPU model in ``gpus_by_model`` becomes a node affinity on the nodes
  whose product is that model. ``provider_id`` is ``<namespace>/<deployment|job>/<name>``.
  The client token is the annotation ``aicmp.io/client-token`` and, hashed to fit a label value,
  the label ``aicmp.io/client-token-hash``; ``create`` looks the label up first and returns the
  workload carrying it.
- **status**: a Deployment is ``running`` when its available replicas reach the wanted count,
  ``pending`` until then (without a scheduler or a fitting node its pods stay Pending: reported as
  pending, never as running), ``error`` when the controller cannot make its pods (``ReplicaFailure``,
  e.g. the namespace's quota is exceeded; the reason is in ``details["error"]``), ``stopped`` at 0
  replicas, ``deleting`` once it has a deletion time.
- **power**: stop scales to 0 (remembering the count in ``aicmp.io/replicas``), start scales back,
  reboot is a rollout restart (the pod template's ``kubectl.kubernetes.io/restartedAt``). A Job
  cannot be stopped or started (``Unsupported``). **resize** patches the container's limits.
  **delete** deletes with background propagation.
- **metrics**: none without metrics-server; ``metrics`` reports pod phase counts of a workload, or
  of the cluster.

Credentials: ``token`` (bearer), optional ``ca_cert`` (PEM). Options: ``verify_tls`` (default
true), ``namespace`` (default for create), ``namespaces`` (list only these), ``image``, ``timeout``
(seconds per call, default 30), ``gpu_model_label``.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors import errors
from connectors.base import (
    AcceleratorCapacity,
    Amounts,
    Capacity,
    Connector,
    Metric,
    ProbeResult,
    Resource,
    ResourceSpec,
    Status,
    accelerator_profile,
    check_client_token,
    normalise_gpu_model,
)

GPU = "nvidia.com/gpu"
PRODUCT_LABEL = "nvidia.com/gpu.product"
TOKEN_ANNOTATION = "aicmp.io/client-token"  # noqa: S105 - a key, not a secret
TOKEN_LABEL = "aicmp.io/client-token-hash"  # noqa: S105 - a key, not a secret
REPLICAS_ANNOTATION = "aicmp.io/replicas"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
QUOTA_NAME = "aicmp-quota"
UNKNOWN_GPU_MODEL = "NVIDIA"
BYTES_PER_GIB = Decimal(1024**3)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def token_label(client_token: str) -> str:
    """A label value for a client token (tokens may hold ``:``; label values may not)."""
    return hashlib.sha256(client_token.encode()).hexdigest()[:40]


class KubernetesConnector(Connector):
    """One Kubernetes cluster (see the module docstring)."""

    provider_type = "kubernetes"
    credential_fields = ("token",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._api: Any = None
        self._ca_file: Any = None
        self.timeout = float(self.options.get("timeout", 30))

    # -- session ----------------------------------------------------------------------------

    def _client(self) -> Any:
        if self._api is None:
            from kubernetes import client

            cfg = client.Configuration()
            cfg.host = str(self.endpoint).rstrip("/")
            cfg.api_key = {"authorization": self._credentials["token"]}
            cfg.api_key_prefix = {"authorization": "Bearer"}
            cfg.verify_ssl = self.options.get("verify_tls", True) not in (False, "false", "0", 0)
            cfg.retries = 0  # an unreachable cluster answers at once; the operators retry
            if self._credentials.get("ca_cert"):
                self._ca_file = tempfile.NamedTemporaryFile("w", suffix=".pem")  # noqa: SIM115 - lives with the client
                self._ca_file.write(self._credentials["ca_cert"])
                self._ca_file.flush()
                cfg.ssl_ca_cert = self._ca_file.name
            self._api = client.ApiClient(cfg)
        return self._api

    def close(self) -> None:
        api, self._api = self._api, None
        if api is not None:
            api.close()
        if self._ca_file is not None:
            self._ca_file.close()
            self._ca_file = None

    def _core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self._client())

    def _apps(self) -> Any:
        from kubernetes import client

        return client.AppsV1Api(self._client())

    def _batch(self) -> Any:
        from kubernetes import client

        return client.BatchV1Api(self._client())

    @contextmanager
    def _calls(self, what: str) -> Iterator[None]:
        try:
            yield
        except errors.ConnectorError:
            raise
        except Exception as exc:  # noqa: BLE001 - every client failure is translated
            raise translate(exc, what) from None

    @property
    def _t(self) -> dict[str, Any]:
        return {"_request_timeout": self.timeout}

    # -- probe / capacity -------------------------------------------------------------------

    def probe(self) -> ProbeResult:
        from kubernetes import client

        began = time.monotonic()
        with self._calls("probe"):
            info = client.VersionApi(self._client()).get_code(**self._t)
            # /version answers anyone; a namespaced read proves the token is accepted.
            self._core().list_namespace(limit=1, **self._t)
        return ProbeResult(ok=True, message="the API server answered", version=info.git_version,
                           latency_ms=int((time.monotonic() - began) * 1000), details={"platform": info.platform})

    def capacity(self) -> list[Capacity]:
        from kubernetes.utils import parse_quantity

        with self._calls("capacity"):
            nodes = self._core().list_node(**self._t).items
            pods = self._core().list_pod_for_all_namespaces(**self._t).items
            quotas = self._core().list_resource_quota_for_all_namespaces(
                field_selector=f"metadata.name={QUOTA_NAME}", **self._t).items
        label = str(self.options.get("gpu_model_label", PRODUCT_LABEL))
        model_of = {n.metadata.name: _node_model(n, label) for n in nodes}
        cpu = mem = disk = cap_cpu = cap_mem = Decimal(0)
        gpu_total: dict[str, Decimal] = {}
        for n in nodes:
            alloc, cap = n.status.allocatable or {}, n.status.capacity or {}
            cpu += parse_quantity(alloc.get("cpu", "0"))
            mem += parse_quantity(alloc.get("memory", "0")) / BYTES_PER_GIB
            disk += parse_quantity(alloc.get("ephemeral-storage", "0")) / BYTES_PER_GIB
            cap_cpu += parse_quantity(cap.get("cpu", "0"))
            cap_mem += parse_quantity(cap.get("memory", "0")) / BYTES_PER_GIB
            if parse_quantity(alloc.get(GPU, "0")):
                model = model_of[n.metadata.name]
                gpu_total[model] = gpu_total.get(model, Decimal(0)) + parse_quantity(alloc[GPU])
        used_cpu = used_mem = used_disk = Decimal(0)
        gpu_alloc: dict[str, Decimal] = {}
        pending_gpus = Decimal(0)
        for p in pods:
            if p.status and p.status.phase in ("Succeeded", "Failed"):
                continue
            req = _pod_requests(p)
            if not p.spec.node_name:
                pending_gpus += req.get(GPU, Decimal(0))
                continue
            used_cpu += req.get("cpu", Decimal(0))
            used_mem += req.get("memory", Decimal(0)) / BYTES_PER_GIB
            used_disk += req.get("ephemeral-storage", Decimal(0)) / BYTES_PER_GIB
            if req.get(GPU):
                model = model_of.get(p.spec.node_name, UNKNOWN_GPU_MODEL)
                gpu_alloc[model] = gpu_alloc.get(model, Decimal(0)) + req[GPU]
        accelerators = []
        for model in sorted(gpu_total):
            kind, use = accelerator_profile(model)
            accelerators.append(AcceleratorCapacity(model, Amounts(gpu_total[model], gpu_alloc.get(model, Decimal(0))),
                                                    kind, use))
        q = Decimal("0.001")
        return [Capacity(
            scope=self.region or "cluster", kind="cluster",
            vcpu=Amounts(cpu, used_cpu), memory_gib=Amounts(mem.quantize(q), used_mem.quantize(q)),
            disk_gib=Amounts(disk.quantize(q), used_disk.quantize(q)), accelerators=tuple(accelerators),
            details={"nodes": sorted(model_of), "capacity_vcpu": str(cap_cpu),
                     "capacity_memory_gib": str(cap_mem.quantize(q)),
                     "pending_gpus": str(pending_gpus),
                     "tenant_quotas": {q.metadata.namespace: {"hard": dict(q.spec.hard or {}),
                                                              "used": dict((q.status and q.status.used) or {})}
                                       for q in quotas}})]

    # -- tenants ----------------------------------------------------------------------------

    def ensure_namespace(self, name: str, quota: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Make (or update) a tenant's namespace and its ResourceQuota ``aicmp-quota``; idempotent.
        ``quota`` maps Kubernetes quota keys to quantities: {"requests.nvidia.com/gpu": "8"}."""
        from kubernetes import client

        _check_name(name, "namespace")
        with self._calls(f"ensure namespace {name}"):
            core = self._core()
            try:
                core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
                    name=name, labels={"app.kubernetes.io/managed-by": "aicmp"})), **self._t)
            except client.ApiException as exc:
                if exc.status != 409:
                    raise
            if quota is not None:
                body = client.V1ResourceQuota(metadata=client.V1ObjectMeta(name=QUOTA_NAME),
                                              spec=client.V1ResourceQuotaSpec(hard=dict(quota)))
                try:
                    core.create_namespaced_resource_quota(namespace=name, body=body, **self._t)
                except client.ApiException as exc:
                    if exc.status != 409:
                        raise
                    core.patch_namespaced_resource_quota(name=QUOTA_NAME, namespace=name,
                                                         body={"spec": {"hard": dict(quota)}}, **self._t)
            return self.namespace_quota(name)

    def namespace_quota(self, name: str) -> dict[str, Any]:
        """A namespace's ResourceQuota ``aicmp-quota``: hard limits and used (as the quota
        controller last counted), quantities as text."""
        from kubernetes import client

        with self._calls(f"read quota of {name}"):
            try:
                q = self._core().read_namespaced_resource_quota(name=QUOTA_NAME, namespace=name, **self._t)
            except client.ApiException as exc:
                if exc.status == 404:
                    return {"namespace": name, "hard": {}, "used": {}}
                raise
        return {"namespace": name, "hard": dict(q.spec.hard or {}), "used": dict((q.status and q.status.used) or {})}

    # -- resources --------------------------------------------------------------------------

    def list_resources(self) -> list[Resource]:
        """The workloads aicmp made: in every namespace, or only in the ``namespaces`` option's (for
        a token that may not list cluster-wide)."""
        selector = "app.kubernetes.io/managed-by=aicmp"
        namespaces = self.options.get("namespaces")
        with self._calls("list workloads"):
            if namespaces:
                deployments = [d for ns in namespaces for d in self._apps().list_namespaced_deployment(
                    namespace=ns, label_selector=selector, **self._t).items]
                jobs = [j for ns in namespaces for j in self._batch().list_namespaced_job(
                    namespace=ns, label_selector=selector, **self._t).items]
            else:
                deployments = self._apps().list_deployment_for_all_namespaces(label_selector=selector, **self._t).items
                jobs = self._batch().list_job_for_all_namespaces(label_selector=selector, **self._t).items
        return [self._resource(d, "deployment") for d in deployments] + [self._resource(j, "job") for j in jobs]

    def create(self, spec: ResourceSpec, client_token: str) -> Resource:
        check_client_token(client_token)
        kind = str(spec.options.get("kind", "deployment"))
        if kind not in ("deployment", "job"):
            raise errors.InvalidSpec(f"options.kind: {kind!r} is not deployment or job", provider=self.provider_type)
        namespace = spec.placement or str(self.options.get("namespace", "default"))
        _check_name(spec.name, "name")
        _check_name(namespace, "placement")
        with self._calls(f"create {kind} {namespace}/{spec.name}"):
            existing = self._find_token(namespace, client_token)
            if existing is not None:
                if existing.name != spec.name:
                    raise errors.Conflict(f"client token {client_token} is already on {existing.provider_id}, not "
                                          f"{spec.name}", provider=self.provider_type,
                                          details={"provider_id": existing.provider_id})
                return existing
            body = self._manifest(spec, kind, client_token)
            if kind == "job":
                made = self._batch().create_namespaced_job(namespace=namespace, body=body, **self._t)
            else:
                made = self._apps().create_namespaced_deployment(namespace=namespace, body=body, **self._t)
            return self._resource(made, kind)

    def _find_token(self, namespace: str, client_token: str) -> Resource | None:
        selector = f"{TOKEN_LABEL}={token_label(client_token)}"
        for kind, items in (
                ("deployment", self._apps().list_namespaced_deployment(namespace=namespace, label_selector=selector,
                                                                       **self._t).items),
                ("job", self._batch().list_namespaced_job(namespace=namespace, label_selector=selector,
                                                          **self._t).items)):
            for obj in items:
                if (obj.metadata.annotations or {}).get(TOKEN_ANNOTATION) == client_token:
                    return self._resource(obj, kind)
        return None

    def _manifest(self, spec: ResourceSpec, kind: str, client_token: str) -> dict[str, Any]:
        image = spec.image or self.options.get("image")
        if not image:
            raise errors.InvalidSpec("image: no container image given and no image option on the account",
                                     provider=self.provider_type)
        if len(spec.gpus_by_model) > 1:
            raise errors.InvalidSpec("gpus_by_model: one workload's pods run on one GPU model",
                                     provider=self.provider_type)
        labels = {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/managed-by": "aicmp",
                  TOKEN_LABEL: token_label(client_token)}
        annotations = {TOKEN_ANNOTATION: client_token, **{f"aicmp.io/tag.{k}": v for k, v in spec.tags.items()}}
        container: dict[str, Any] = {"name": "main", "image": image, "resources": _resources(spec)}
        if spec.options.get("command"):
            container["command"] = list(spec.options["command"])
        pod_spec: dict[str, Any] = {"containers": [container]}
        if spec.gpus_by_model:
            (model,) = spec.gpus_by_model
            pod_spec["affinity"] = self._gpu_affinity(model)
        pod_labels = {"app.kubernetes.io/name": spec.name, "aicmp.io/workload": spec.name}
        if kind == "job":
            pod_spec["restartPolicy"] = "Never"
            return {"apiVersion": "batch/v1", "kind": "Job",
                    "metadata": {"name": spec.name, "labels": labels, "annotations": annotations},
                    "spec": {"backoffLimit": int(spec.options.get("backoff_limit", 0)),
                             "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec}}}
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": spec.name, "labels": labels, "annotations": annotations},
                "spec": {"replicas": int(spec.options.get("replicas", 1)),
                         "selector": {"matchLabels": {"aicmp.io/workload": spec.name}},
                         "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec}}}

    def _gpu_affinity(self, model: str) -> dict[str, Any]:
        """Node affinity on the GPU product label values that are this model."""
        label = str(self.options.get("gpu_model_label", PRODUCT_LABEL))
        products = sorted({(n.metadata.labels or {})[label] for n in self._core().list_node(**self._t).items
                           if (n.metadata.labels or {}).get(label) and _node_model(n, label) == model})
        if not products:
            raise errors.InvalidSpec(f"gpus_by_model: no node has {model} GPUs (label {label})",
                                     provider=self.provider_type)
        return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": label, "operator": "In", "values": products}]}]}}}

    def _read(self, provider_id: str) -> tuple[Any, str, str, str]:
        namespace, kind, name = _parse_id(provider_id)
        if kind == "job":
            return self._batch().read_namespaced_job(name=name, namespace=namespace, **self._t), kind, namespace, name
        return self._apps().read_namespaced_deployment(name=name, namespace=namespace, **self._t), kind, namespace, name

    def get(self, provider_id: str) -> Resource:
        with self._calls(f"get {provider_id}"):
            obj, kind, _, _ = self._read(provider_id)
            return self._resource(obj, kind)

    def start(self, provider_id: str) -> Resource:
        with self._calls(f"start {provider_id}"):
            obj, kind, namespace, name = self._read(provider_id)
            self._deployment_only(kind, "start", provider_id)
            self._alive(obj, "start", provider_id)
            if obj.spec.replicas:
                return self._resource(obj, kind)
            replicas = int((obj.metadata.annotations or {}).get(REPLICAS_ANNOTATION, "1"))
            made = self._apps().patch_namespaced_deployment(name=name, namespace=namespace, body={
                "spec": {"replicas": replicas}, "metadata": {"annotations": {REPLICAS_ANNOTATION: None}}}, **self._t)
            return self._resource(made, kind)

    def stop(self, provider_id: str) -> Resource:
        with self._calls(f"stop {provider_id}"):
            obj, kind, namespace, name = self._read(provider_id)
            self._deployment_only(kind, "stop", provider_id)
            self._alive(obj, "stop", provider_id)
            if not obj.spec.replicas:
                return self._resource(obj, kind)
            made = self._apps().patch_namespaced_deployment(name=name, namespace=namespace, body={
                "spec": {"replicas": 0},
                "metadata": {"annotations": {REPLICAS_ANNOTATION: str(obj.spec.replicas)}}}, **self._t)
            return self._resource(made, kind)

    def reboot(self, provider_id: str) -> Resource:
        with self._calls(f"reboot {provider_id}"):
            obj, kind, namespace, name = self._read(provider_id)
            self._deployment_only(kind, "reboot", provider_id)
            self._alive(obj, "reboot", provider_id)
            if not obj.spec.replicas:
                raise errors.Conflict(f"cannot reboot {provider_id}: it is stopped (0 replicas)",
                                      provider=self.provider_type, details={"provider_id": provider_id})
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            made = self._apps().patch_namespaced_deployment(name=name, namespace=namespace, body={
                "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}, **self._t)
            return self._resource(made, kind)

    def resize(self, provider_id: str, spec: ResourceSpec) -> Resource:
        with self._calls(f"resize {provider_id}"):
            obj, kind, namespace, name = self._read(provider_id)
            if kind == "job":
                raise errors.Unsupported("a Job's pod template cannot change; create a new Job",
                                         provider=self.provider_type, details={"provider_id": provider_id})
            self._alive(obj, "resize", provider_id)
            containers = obj.spec.template.spec.containers
            patch = {"spec": {"template": {"spec": {"containers": [
                {"name": containers[0].name, "resources": _resources(spec)}]}}}}
            if spec.gpus_by_model:
                (model,) = spec.gpus_by_model
                patch["spec"]["template"]["spec"]["affinity"] = self._gpu_affinity(model)
            made = self._apps().patch_namespaced_deployment(name=name, namespace=namespace, body=patch, **self._t)
            return self._resource(made, kind)

    def delete(self, provider_id: str) -> Resource:
        from kubernetes import client

        with self._calls(f"delete {provider_id}"):
            obj, kind, namespace, name = self._read(provider_id)
            current = self._resource(obj, kind)
            if current.status is Status.DELETING:
                return current
            options = client.V1DeleteOptions(propagation_policy="Background")
            if kind == "job":
                self._batch().delete_namespaced_job(name=name, namespace=namespace, body=options, **self._t)
            else:
                self._apps().delete_namespaced_deployment(name=name, namespace=namespace, body=options, **self._t)
            try:
                obj, _, _, _ = self._read(provider_id)
            except client.ApiException as exc:
                if exc.status == 404:
                    return replace(current, status=Status.DELETED)
                raise
            return self._resource(obj, kind)

    def metrics(self, provider_id: str | None = None, since: datetime | None = None) -> list[Metric]:
        now = datetime.now(UTC)
        with self._calls("metrics"):
            if provider_id is None:
                pods = self._core().list_pod_for_all_namespaces(**self._t).items
            else:
                namespace, _, name = _parse_id(provider_id)
                self._read(provider_id)  # NotFound for an unknown workload
                pods = self._core().list_namespaced_pod(namespace=namespace,
                                                        label_selector=f"aicmp.io/workload={name}", **self._t).items
        phases: dict[str, int] = {}
        for p in pods:
            phase = (p.status.phase if p.status else None) or "Unknown"
            phases[phase] = phases.get(phase, 0) + 1
        return [Metric(f"pods_{phase.lower()}", Decimal(count), "count", now, provider_id)
                for phase, count in sorted(phases.items())]

    # -- helpers ----------------------------------------------------------------------------

    def _deployment_only(self, kind: str, what: str, provider_id: str) -> None:
        if kind != "deployment":
            raise errors.Unsupported(f"a Job cannot {what} (Kubernetes 1.20 has no Job suspend)",
                                     provider=self.provider_type, details={"provider_id": provider_id})

    def _alive(self, obj: Any, what: str, provider_id: str) -> None:
        if obj.metadata.deletion_timestamp is not None:
            raise errors.Conflict(f"cannot {what} {provider_id}: it is being deleted", provider=self.provider_type,
                                  details={"provider_id": provider_id})

    def _resource(self, obj: Any, kind: str) -> Resource:
        from kubernetes.utils import parse_quantity

        meta = obj.metadata
        container = obj.spec.template.spec.containers[0]
        limits = (container.resources and container.resources.limits) or {}
        gpus = int(parse_quantity(limits.get(GPU, "0")))
        model = self._affinity_model(obj.spec.template.spec.affinity) if gpus else None
        annotations = meta.annotations or {}
        tags = {k[len("aicmp.io/tag."):]: v for k, v in annotations.items() if k.startswith("aicmp.io/tag.")}
        spec = ResourceSpec(
            name=meta.name,
            vcpu=int(parse_quantity(limits.get("cpu", "0")).to_integral_value(rounding="ROUND_CEILING")),
            memory_gib=parse_quantity(limits.get("memory", "0")) / BYTES_PER_GIB,
            gpus_by_model={model or UNKNOWN_GPU_MODEL: gpus} if gpus else {}, image=container.image,
            placement=meta.namespace, tags=tags, options={"kind": kind})
        status, details = _status(obj, kind)
        return Resource(provider_id=f"{meta.namespace}/{kind}/{meta.name}", name=meta.name, status=status, spec=spec,
                        client_token=annotations.get(TOKEN_ANNOTATION), scope=self.region or "cluster",
                        created_at=meta.creation_timestamp.astimezone(UTC) if meta.creation_timestamp else None,
                        details=details)

    def _affinity_model(self, affinity: Any) -> str | None:
        try:
            terms = affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms
            values = terms[0].match_expressions[0].values
        except (AttributeError, IndexError, TypeError):
            return None
        return normalise_gpu_model(values[0]) if values else None


def _status(obj: Any, kind: str) -> tuple[Status, dict[str, Any]]:
    st = obj.status
    if kind == "job":
        details = {"active": st.active or 0, "succeeded": st.succeeded or 0, "failed": st.failed or 0}
        conditions = {c.type: c.status for c in (st.conditions or [])}
        if obj.metadata.deletion_timestamp is not None:
            return Status.DELETING, details
        if conditions.get("Failed") == "True":
            return Status.ERROR, details
        if conditions.get("Complete") == "True":
            return Status.STOPPED, details
        return (Status.RUNNING if st.active else Status.PENDING), details
    wanted = obj.spec.replicas or 0
    details = {"replicas": wanted, "ready": st.ready_replicas or 0, "available": st.available_replicas or 0,
               "current": st.replicas or 0, "updated": st.updated_replicas or 0}
    if obj.metadata.deletion_timestamp is not None:
        return Status.DELETING, details
    failure = next((c for c in (st.conditions or []) if c.type == "ReplicaFailure" and c.status == "True"), None)
    if failure is not None and wanted > 0:
        # The controller could not make its pods (quota exceeded, admission refused): say why.
        return Status.ERROR, {**details, "error": f"{failure.reason}: {failure.message}"}
    # Until the controller has seen the latest spec (observedGeneration), the counts describe the
    # previous one: a deployment just scaled to 0 would read "stopped" before its pods go.
    observed = (st.observed_generation or 0) >= (obj.metadata.generation or 0)
    if wanted == 0:
        return (Status.STOPPED if observed and not st.replicas else Status.STOPPING), details
    if observed and (st.available_replicas or 0) >= wanted and (st.updated_replicas or 0) >= wanted:
        return Status.RUNNING, details
    restarted = (obj.spec.template.metadata.annotations or {}).get(RESTARTED_AT) if obj.spec.template.metadata else None
    if restarted and (st.available_replicas or 0) > 0:
        return Status.REBOOTING, details
    return Status.PENDING, details


def _resources(spec: ResourceSpec) -> dict[str, dict[str, str]]:
    limits: dict[str, str] = {}
    if spec.vcpu:
        limits["cpu"] = str(spec.vcpu)
    if spec.memory_gib:
        limits["memory"] = f"{int(spec.memory_gib * 1024)}Mi"
    if spec.disk_gib:
        limits["ephemeral-storage"] = f"{int(spec.disk_gib * 1024)}Mi"
    if spec.gpu_count:
        limits[GPU] = str(spec.gpu_count)
    requests = {k: v for k, v in limits.items() if k != GPU}  # extended resources: requests default to limits
    return {"limits": limits, "requests": requests}


def _pod_requests(pod: Any) -> dict[str, Decimal]:
    """A pod's effective requests: the sum over its containers (requests, else limits)."""
    from kubernetes.utils import parse_quantity

    out: dict[str, Decimal] = {}
    for c in pod.spec.containers or []:
        res = c.resources
        merged = {**((res and res.limits) or {}), **((res and res.requests) or {})}
        for key, value in merged.items():
            out[key] = out.get(key, Decimal(0)) + parse_quantity(value)
    return out


def _node_model(node: Any, label: str) -> str:
    product = (node.metadata.labels or {}).get(label)
    return normalise_gpu_model(product.replace("-", " ")) if product else UNKNOWN_GPU_MODEL


def _check_name(name: str, field: str) -> None:
    if not _NAME.match(name or "") or len(name) > 63:
        raise errors.InvalidSpec(f"{field}: {name!r} is not a Kubernetes name (lower-case letters, digits and '-', "
                                 "at most 63)", provider="kubernetes")


def _parse_id(provider_id: str) -> tuple[str, str, str]:
    parts = provider_id.split("/")
    if len(parts) != 3 or parts[1] not in ("deployment", "job"):
        raise errors.NotFound(f"{provider_id!r} is not a workload id (<namespace>/<deployment|job>/<name>)",
                              provider="kubernetes")
    return parts[0], parts[1], parts[2]


def translate(exc: BaseException, what: str) -> errors.ConnectorError:
    """One kubernetes-client / urllib3 failure as a ``connectors.errors`` error. The API server's
    Status message is kept; it never contains the bearer token."""
    import json

    import urllib3
    from kubernetes.client import ApiException

    provider = "kubernetes"
    if isinstance(exc, ApiException):
        status = exc.status
        try:
            message = json.loads(exc.body or "{}").get("message") or exc.reason
        except ValueError:
            message = exc.reason
        details = {"http_status": status}
        if status == 401:
            return errors.Unauthorised(f"{what}: the API server refused the token", provider=provider, details=details)
        if status == 403:
            if "exceeded quota" in str(message):
                return errors.ProviderQuotaExceeded(f"{what}: {message}", provider=provider, details=details)
            return errors.Unauthorised(f"{what}: forbidden: {message}", provider=provider, details=details)
        if status == 404:
            return errors.NotFound(f"{what}: {message}", provider=provider, details=details)
        if status == 409:
            return errors.Conflict(f"{what}: {message}", provider=provider, details=details)
        if status in (400, 422):
            return errors.InvalidSpec(f"{what}: {message}", provider=provider, details=details)
        if status in (408, 504):
            return errors.Timeout(f"{what}: {message}", provider=provider, details=details)
        if status and status >= 500:
            return errors.Unreachable(f"{what}: the API server failed ({status}): {message}", provider=provider,
                                      details=details)
        return errors.ConnectorError(f"{what}: {status} {message}", provider=provider, details=details)
    reason = getattr(exc, "reason", None) or exc
    if isinstance(exc, urllib3.exceptions.MaxRetryError):
        exc = reason if isinstance(reason, BaseException) else exc
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # a ConnectTimeoutError subclass, but refused
        return errors.Unreachable(f"{what}: cannot reach the API server ({exc})", provider=provider)
    if isinstance(exc, (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError, TimeoutError)):
        return errors.Timeout(f"{what}: the API server did not answer in time", provider=provider)
    if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
        return errors.Unreachable(f"{what}: cannot reach the API server ({type(exc).__name__}: {exc})",
                                  provider=provider)
    return errors.ConnectorError(f"{what}: {type(exc).__name__}: {exc}", provider=provider)

