"""vSphere connector: one vCenter (or ESXi host), through pyvmomi.

- **probe**: log in (``SessionManager.Login`` via ``SmartConnect``) and read ``CurrentTime`` and the
  ``about`` version.
- **capacity**: one scope per compute resource: a cluster (``kind="cluster"``) or a standalone host
  (``kind="host"``). vCPU total is the hosts' logical CPU threads, allocated the vCPUs of the VMs
  on them (templates excluded), used the measured CPU (``overallCpuUsage`` / core MHz); memory the
  same in GiB; disk its datastores' capacity, allocated and used = capacity - free. GPUs are the
  hosts' NVIDIA PCI devices (vendor 0x10DE) per model, allocated = the PCI passthrough devices of
  their VMs.
- **resources**: virtual machines, identified by ``config.instanceUuid``. ``create`` clones a
  template (``spec.image`` or the ``template`` option) into the target compute resource's root pool
  (``spec.placement`` / the ``cluster`` option / the template's own), sets vCPU and memory,
  passes through ``gpus_by_model`` GPUs (PCI passthrough of free NVIDIA devices of one host; none
  free is ``ProviderQuotaExceeded``), and powers it on. The client token is written as extraConfig
  ``aicmp.client_token`` (and in the annotation, for operators reading the vSphere client);
  ``create`` first reads every VM's token in one property-collector call and returns the VM that
  carries it.
- **power**: power on / power off (hard; ``stop_mode: guest`` shuts the guest down through VMware
  Tools) / reset; each waits for its task. **resize**: ``ReconfigVM_Task`` (vCPU, memory, growing
  the first disk); a powered-on VM without hot-add must be stopped first (``Conflict``).
  **delete**: power off, then ``Destroy_Task``.
- **metrics**: a VM's or the hosts' quick stats (CPU MHz, memory MiB in use).

Credentials: ``username``, ``password``. Endpoint: ``https://vcenter[:port][/sdk]``. Options:
``template``, ``cluster``, ``datastore``, ``verify_tls`` (default true), ``ca_file``, ``timeout``
(seconds to wait for a task, default 300), ``http_timeout`` (seconds per SOAP call, default 60),
``stop_mode`` (``hard`` | ``guest``).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

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

TOKEN_KEY = "aicmp.client_token"  # noqa: S105 - an extraConfig key, not a secret
NVIDIA_VENDOR_ID = 0x10DE
KIB_PER_GIB = 1024 * 1024
MIB_PER_GIB = Decimal(1024)
BYTES_PER_GIB = Decimal(1024**3)
_DEFAULT_TIMEOUT_LOCK = threading.Lock()
_POWER = {"poweredOn": Status.RUNNING, "poweredOff": Status.STOPPED, "suspended": Status.STOPPED}


class VSphereConnector(Connector):
    """One vCenter (see the module docstring)."""

    provider_type = "vsphere"
    credential_fields = ("username", "password")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._si: Any = None
        self.timeout = float(self.options.get("timeout", 300))

    # -- session ----------------------------------------------------------------------------

    def _content(self) -> Any:
        if self._si is None:
            from pyVim.connect import SmartConnect

            url = urlsplit(self.endpoint if "://" in str(self.endpoint) else f"https://{self.endpoint}")
            verify = self.options.get("verify_tls", True) not in (False, "false", "0", 0)
            context = ssl.create_default_context(cafile=self.options.get("ca_file"))
            if not verify:
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            timeout = float(self.options.get("http_timeout", 60))
            # SmartConnect's API version discovery opens its own connections without a timeout (a
            # hung vCenter would hang us forever): bound it through the default socket timeout.
            with _DEFAULT_TIMEOUT_LOCK:
                previous = socket.getdefaulttimeout()
                socket.setdefaulttimeout(timeout)
                try:
                    self._si = SmartConnect(
                        protocol=url.scheme or "https", host=url.hostname,
                        port=url.port or (443 if url.scheme != "http" else 80),
                        path=url.path if url.path not in ("", "/") else "/sdk", user=self._credentials["username"],
                        pwd=self._credentials["password"], sslContext=context, httpConnectionTimeout=timeout)
                finally:
                    socket.setdefaulttimeout(previous)
        return self._si.RetrieveContent()

    def close(self) -> None:
        si, self._si = self._si, None
        if si is not None:
            from pyVim.connect import Disconnect

            with contextlib.suppress(Exception):  # a failed logout leaves nothing of ours behind
                Disconnect(si)

    @contextmanager
    def _calls(self, what: str) -> Iterator[None]:
        try:
            yield
        except errors.ConnectorError:
            raise
        except Exception as exc:  # noqa: BLE001 - every pyvmomi failure is translated
            raise translate(exc, what) from None

    # -- inventory helpers ------------------------------------------------------------------

    def _retrieve(self, obj_type: Any, props: list[str]) -> list[tuple[Any, dict[str, Any]]]:
        """Every object of a type with the given properties, in one property-collector call."""
        from pyVmomi import vim, vmodl

        content = self._content()
        view = content.viewManager.CreateContainerView(content.rootFolder, [obj_type], True)
        try:
            pc = vmodl.query.PropertyCollector
            spec = pc.FilterSpec(
                objectSet=[pc.ObjectSpec(obj=view, skip=True, selectSet=[
                    pc.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)])],
                propSet=[pc.PropertySpec(type=obj_type, pathSet=props)])
            found = content.propertyCollector.RetrieveContents([spec])
        finally:
            view.Destroy()
        return [(o.obj, {p.name: p.val for p in (o.propSet or [])}) for o in found]

    def _vm(self, provider_id: str) -> Any:
        vm = self._content().searchIndex.FindByUuid(None, provider_id, True, True)
        if vm is None:
            raise errors.NotFound(f"no virtual machine with instance UUID {provider_id}", provider=self.provider_type,
                                  details={"provider_id": provider_id})
        return vm

    def _compute_resources(self) -> list[Any]:
        from pyVmomi import vim

        content = self._content()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.ComputeResource], True)
        try:
            return list(view.view)
        finally:
            view.Destroy()

    def _wait(self, task: Any, what: str) -> Any:
        """Wait for a vSphere task; its fault is raised (and translated by ``_calls``)."""
        deadline = time.monotonic() + self.timeout
        while True:
            state = task.info.state
            if state == "success":
                return task.info.result
            if state == "error":
                raise task.info.error
            if time.monotonic() > deadline:
                raise errors.Timeout(f"{what}: the vSphere task did not finish in {self.timeout:g} s",
                                     provider=self.provider_type)
            time.sleep(0.1)

    # -- probe / capacity -------------------------------------------------------------------

    def probe(self) -> ProbeResult:
        began = time.monotonic()
        with self._calls("probe"):
            content = self._content()
            self._si.CurrentTime()
            about = content.about
        return ProbeResult(ok=True, message=f"logged in to {about.fullName}", version=about.apiVersion,
                           latency_ms=int((time.monotonic() - began) * 1000),
                           details={"product": about.name, "instance_uuid": about.instanceUuid})

    def capacity(self) -> list[Capacity]:
        from pyVmomi import vim

        with self._calls("capacity"):
            vms = self._retrieve(vim.VirtualMachine, ["config.template", "config.hardware", "runtime.host"])
            out = []
            for cr in self._compute_resources():
                hosts = list(cr.host)
                host_ids = {h._moId for h in hosts}
                mine = [p for _, p in vms if not p.get("config.template") and p.get("runtime.host") is not None
                        and p["runtime.host"]._moId in host_ids and p.get("config.hardware") is not None]
                out.append(self._scope(cr, hosts, mine))
        return out

    def _scope(self, cr: Any, hosts: list[Any], vms: list[dict[str, Any]]) -> Capacity:
        from pyVmomi import vim

        threads = sum(h.summary.hardware.numCpuThreads for h in hosts)
        cpu_used = sum(Decimal(h.summary.quickStats.overallCpuUsage or 0) / Decimal(h.summary.hardware.cpuMhz or 1)
                       for h in hosts)
        memory = sum(Decimal(h.summary.hardware.memorySize) for h in hosts) / BYTES_PER_GIB
        memory_used = sum(Decimal(h.summary.quickStats.overallMemoryUsage or 0) for h in hosts) / MIB_PER_GIB
        vcpu_alloc = sum(p["config.hardware"].numCPU for p in vms)
        mem_alloc = sum(Decimal(p["config.hardware"].memoryMB) for p in vms) / MIB_PER_GIB  # exact: MiB / 1024
        stores = list(cr.datastore)
        disk = sum(Decimal(d.summary.capacity) for d in stores) / BYTES_PER_GIB
        disk_used = sum(Decimal(d.summary.capacity - d.summary.freeSpace) for d in stores) / BYTES_PER_GIB
        gpus: dict[str, list[int]] = {}
        for h in hosts:
            for dev in h.hardware.pciDevice or []:
                if _is_gpu(dev):
                    gpus.setdefault(normalise_gpu_model(dev.deviceName), [0, 0])[0] += 1
        passthrough = sum(1 for p in vms for d in p["config.hardware"].device
                          if isinstance(d, vim.vm.device.VirtualPCIPassthrough))
        accelerators = []
        for model, (total, _) in sorted(gpus.items()):
            kind, use = accelerator_profile(model)
            allocated = min(passthrough, total)
            passthrough -= allocated
            accelerators.append(AcceleratorCapacity(model, Amounts(Decimal(total), Decimal(allocated)), kind, use))
        q = Decimal("0.001")
        return Capacity(
            scope=cr.name, kind="cluster" if isinstance(cr, vim.ClusterComputeResource) else "host",
            vcpu=Amounts(Decimal(threads), Decimal(vcpu_alloc), cpu_used.quantize(Decimal("0.01"))),
            memory_gib=Amounts(memory.quantize(q), mem_alloc, memory_used.quantize(q)),
            disk_gib=Amounts(disk.quantize(q), disk_used.quantize(q), disk_used.quantize(q)),
            accelerators=tuple(accelerators),
            details={"hosts": [h.name for h in hosts], "datastores": [d.name for d in stores],
                     "virtual_machines": len(vms)})

    # -- resources --------------------------------------------------------------------------

    _VM_PROPS = ["name", "config.instanceUuid", "config.template", "config.hardware", "config.extraConfig",
                 "config.createDate", "runtime.powerState", "runtime.host", "guest.ipAddress"]

    def list_resources(self) -> list[Resource]:
        from pyVmomi import vim

        with self._calls("list virtual machines"):
            rows = self._retrieve(vim.VirtualMachine, self._VM_PROPS)
            return [self._resource(p) for _, p in rows if p.get("config.instanceUuid") and not p.get("config.template")]

    def _find_token(self, client_token: str) -> Any | None:
        from pyVmomi import vim

        for vm, props in self._retrieve(vim.VirtualMachine, ["config.extraConfig"]):
            if _extra(props.get("config.extraConfig")).get(TOKEN_KEY) == client_token:
                return vm
        return None

    def create(self, spec: ResourceSpec, client_token: str) -> Resource:
        from pyVmomi import vim

        check_client_token(client_token)
        with self._calls("create virtual machine"):
            existing = self._find_token(client_token)
            if existing is not None:
                if existing.name != spec.name:
                    raise errors.Conflict(f"client token {client_token} is already on VM {existing.name}, not "
                                          f"{spec.name}", provider=self.provider_type,
                                          details={"provider_id": existing.config.instanceUuid})
                return self._vm_resource(existing)
            template = self._template(spec.image or self.options.get("template"))
            target = self._target(spec.placement or self.options.get("cluster"), template)
            relocate = vim.vm.RelocateSpec(pool=target.resourcePool)
            template_host = template.runtime.host
            gpu_host, gpus = self._gpu_placement(target, spec) if spec.gpus_by_model else (None, [])
            if gpu_host is not None:
                relocate.host = gpu_host
            elif template_host is None or template_host.parent != target:
                relocate.host = self._host_in(target)
            if self.options.get("datastore"):
                relocate.datastore = self._by_name(vim.Datastore, self.options["datastore"])
            config = vim.vm.ConfigSpec(
                annotation=f"aicmp client token: {client_token}",
                extraConfig=[vim.option.OptionValue(key=TOKEN_KEY, value=client_token)]
                + [vim.option.OptionValue(key=f"aicmp.tag.{k}", value=v) for k, v in spec.tags.items()])
            if spec.vcpu:
                config.numCPUs = spec.vcpu
            if spec.memory_gib:
                config.memoryMB = int(spec.memory_gib * 1024)
            folder = (template.parent if isinstance(template.parent, vim.Folder)
                      else self._datacenter_of(target).vmFolder)
            vm = self._wait(template.Clone(folder=folder, name=spec.name,
                                           spec=vim.vm.CloneSpec(location=relocate, config=config, powerOn=False,
                                                                 template=False)), "clone")
            # A clone may keep the template's size and annotation and land on the template's host
            # (the simulator does all three): correct each after the clone.
            self._apply_size(vm, spec, annotation=f"aicmp client token: {client_token}")
            want_host = gpu_host or (None if vm.runtime.host is not None and vm.runtime.host.parent == target
                                     else self._host_in(target))
            if want_host is not None and vm.runtime.host != want_host:
                self._wait(vm.RelocateVM_Task(spec=vim.vm.RelocateSpec(pool=target.resourcePool, host=want_host)),
                           "relocate")
            if gpus:
                self._wait(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[
                    vim.vm.device.VirtualDeviceSpec(operation="add", device=_passthrough(gpu_host, dev, -100 - i))
                    for i, dev in enumerate(gpus)])), "attach GPUs")
            if self.options.get("power_on", True):
                self._wait(vm.PowerOnVM_Task(), "power on")
            return self._vm_resource(vm)

    def get(self, provider_id: str) -> Resource:
        with self._calls(f"get VM {provider_id}"):
            return self._vm_resource(self._vm(provider_id))

    def start(self, provider_id: str) -> Resource:
        with self._calls(f"start VM {provider_id}"):
            vm = self._vm(provider_id)
            if vm.runtime.powerState != "poweredOn":
                self._wait(vm.PowerOnVM_Task(), "power on")
            return self._vm_resource(vm)

    def stop(self, provider_id: str) -> Resource:
        with self._calls(f"stop VM {provider_id}"):
            vm = self._vm(provider_id)
            if vm.runtime.powerState == "poweredOn":
                if self.options.get("stop_mode") == "guest":
                    vm.ShutdownGuest()
                    return replace(self._vm_resource(vm), status=Status.STOPPING)
                self._wait(vm.PowerOffVM_Task(), "power off")
            return self._vm_resource(vm)

    def reboot(self, provider_id: str) -> Resource:
        with self._calls(f"reboot VM {provider_id}"):
            vm = self._vm(provider_id)
            if vm.runtime.powerState != "poweredOn":
                raise errors.Conflict(f"cannot reboot VM {provider_id}: it is {vm.runtime.powerState}",
                                      provider=self.provider_type, details={"provider_id": provider_id})
            self._wait(vm.ResetVM_Task(), "reset")
            return self._vm_resource(vm)

    def resize(self, provider_id: str, spec: ResourceSpec) -> Resource:
        with self._calls(f"resize VM {provider_id}"):
            vm = self._vm(provider_id)
            hw, cfg = vm.config.hardware, vm.config
            grows_cpu = bool(spec.vcpu) and spec.vcpu != hw.numCPU
            grows_mem = bool(spec.memory_gib) and int(spec.memory_gib * 1024) != hw.memoryMB
            if vm.runtime.powerState == "poweredOn" and (
                    (grows_cpu and not (cfg.cpuHotAddEnabled and spec.vcpu > hw.numCPU))
                    or (grows_mem and not (cfg.memoryHotAddEnabled and int(spec.memory_gib * 1024) > hw.memoryMB))):
                raise errors.Conflict(f"VM {provider_id} is powered on and has no hot-add for that change: stop it "
                                      "first", provider=self.provider_type, details={"provider_id": provider_id})
            self._apply_size(vm, spec)
            return self._vm_resource(vm)

    def delete(self, provider_id: str) -> Resource:
        with self._calls(f"delete VM {provider_id}"):
            vm = self._vm(provider_id)
            gone = replace(self._vm_resource(vm), status=Status.DELETED)
            if vm.runtime.powerState != "poweredOff":
                self._wait(vm.PowerOffVM_Task(), "power off")
            self._wait(vm.Destroy_Task(), "destroy")
            return gone

    def metrics(self, provider_id: str | None = None, since: datetime | None = None) -> list[Metric]:
        now = datetime.now(UTC)
        out: list[Metric] = []
        with self._calls("metrics"):
            if provider_id is not None:
                stats = self._vm(provider_id).summary.quickStats
                pairs = [("cpu_usage", stats.overallCpuUsage, "MHz"), ("memory_used", stats.guestMemoryUsage, "MiB"),
                         ("host_memory_used", stats.hostMemoryUsage, "MiB")]
                return [Metric(n, Decimal(v), u, now, provider_id) for n, v, u in pairs if v is not None]
            for cr in self._compute_resources():
                for h in cr.host:
                    qs, labels = h.summary.quickStats, {"host": h.name, "scope": cr.name}
                    if qs.overallCpuUsage is not None:
                        out.append(Metric("cpu_usage", Decimal(qs.overallCpuUsage), "MHz", now, labels=labels))
                    if qs.overallMemoryUsage is not None:
                        out.append(Metric("memory_used", Decimal(qs.overallMemoryUsage), "MiB", now, labels=labels))
        return out

    # -- helpers ----------------------------------------------------------------------------

    def _by_name(self, obj_type: Any, name: str) -> Any:
        for obj, props in self._retrieve(obj_type, ["name"]):
            if props.get("name") == name:
                return obj
        kind = obj_type.__name__.rsplit(".", 1)[-1]
        raise errors.InvalidSpec(f"no {kind} named {name!r}", provider=self.provider_type)

    def _template(self, name: str | None) -> Any:
        from pyVmomi import vim

        if not name:
            raise errors.InvalidSpec("image: no template given and no template option on the account",
                                     provider=self.provider_type)
        return self._by_name(vim.VirtualMachine, name)

    def _target(self, placement: str | None, template: Any) -> Any:
        from pyVmomi import vim

        if placement:
            return self._by_name(vim.ComputeResource, placement)
        host = template.runtime.host
        if host is None:
            raise errors.InvalidSpec("placement: the template has no host; name a cluster", provider=self.provider_type)
        return host.parent

    def _gpu_placement(self, target: Any, spec: ResourceSpec) -> tuple[Any, list[Any]]:
        """A host of ``target`` with enough free NVIDIA GPUs of the one wanted model, and which of
        its PCI devices to pass through (free: not backing another VM's passthrough device)."""
        from pyVmomi import vim

        if len(spec.gpus_by_model) != 1:
            raise errors.InvalidSpec("gpus_by_model: one GPU model per virtual machine", provider=self.provider_type)
        ((model, count),) = spec.gpus_by_model.items()
        for host in sorted(target.host, key=lambda h: h.name):
            if host.runtime.connectionState != "connected" or host.runtime.inMaintenanceMode:
                continue
            taken = {d.backing.id for vm in host.vm if vm.config is not None for d in vm.config.hardware.device
                     if isinstance(d, vim.vm.device.VirtualPCIPassthrough) and d.backing is not None}
            free = [d for d in host.hardware.pciDevice or [] if _is_gpu(d) and d.id not in taken
                    and normalise_gpu_model(d.deviceName) == model]
            if len(free) >= count:
                return host, free[:count]
        raise errors.ProviderQuotaExceeded(f"no host in {target.name} has {count} free {model} GPU(s)",
                                           provider=self.provider_type)

    def _host_in(self, target: Any) -> Any:
        """The connected host of a compute resource with the fewest VMs (what DRS would do at best)."""
        hosts = [h for h in target.host if h.runtime.connectionState == "connected" and not h.runtime.inMaintenanceMode]
        if not hosts:
            raise errors.ProviderQuotaExceeded(f"{target.name} has no connected host out of maintenance",
                                               provider=self.provider_type)
        return min(hosts, key=lambda h: (len(h.vm), h.name))

    def _datacenter_of(self, obj: Any) -> Any:
        from pyVmomi import vim

        while obj is not None and not isinstance(obj, vim.Datacenter):
            obj = obj.parent
        return obj

    def _apply_size(self, vm: Any, spec: ResourceSpec, annotation: str | None = None) -> None:
        from pyVmomi import vim

        change = vim.vm.ConfigSpec()
        changed = False
        if annotation is not None and vm.config.annotation != annotation:
            change.annotation, changed = annotation, True
        hw = vm.config.hardware
        if spec.vcpu and spec.vcpu != hw.numCPU:
            change.numCPUs, changed = spec.vcpu, True
        if spec.memory_gib and int(spec.memory_gib * 1024) != hw.memoryMB:
            change.memoryMB, changed = int(spec.memory_gib * 1024), True
        disks = [d for d in hw.device if isinstance(d, vim.vm.device.VirtualDisk)]
        if spec.disk_gib and disks:
            want_kib = int(spec.disk_gib * KIB_PER_GIB)
            if want_kib < disks[0].capacityInKB:
                raise errors.InvalidSpec(f"disk_gib: {spec.disk_gib} GiB is smaller than the disk "
                                         f"({Decimal(disks[0].capacityInKB) / KIB_PER_GIB} GiB); disks only grow",
                                         provider=self.provider_type)
            if want_kib > disks[0].capacityInKB:
                disks[0].capacityInKB = want_kib
                change.deviceChange = [vim.vm.device.VirtualDeviceSpec(operation="edit", device=disks[0])]
                changed = True
        if changed:
            self._wait(vm.ReconfigVM_Task(spec=change), "reconfigure")

    def _vm_resource(self, vm: Any) -> Resource:
        props = {"name": vm.name, "config.instanceUuid": vm.config.instanceUuid, "config.hardware": vm.config.hardware,
                 "config.extraConfig": vm.config.extraConfig, "config.createDate": vm.config.createDate,
                 "runtime.powerState": vm.runtime.powerState, "runtime.host": vm.runtime.host,
                 "guest.ipAddress": vm.guest.ipAddress if vm.guest else None}
        return self._resource(props)

    def _resource(self, p: dict[str, Any]) -> Resource:
        from pyVmomi import vim

        hw = p["config.hardware"]
        extra = _extra(p.get("config.extraConfig"))
        disk_kib = sum(d.capacityInKB for d in hw.device if isinstance(d, vim.vm.device.VirtualDisk))
        host = p.get("runtime.host")
        scope = host.parent.name if host is not None else None
        tags = {k[len("aicmp.tag."):]: v for k, v in extra.items() if k.startswith("aicmp.tag.")}
        gpus: dict[str, int] = {}
        for d in hw.device:
            if isinstance(d, vim.vm.device.VirtualPCIPassthrough) and getattr(d.backing, "deviceName", None):
                model = normalise_gpu_model(d.backing.deviceName)
                gpus[model] = gpus.get(model, 0) + 1
        spec = ResourceSpec(name=p["name"], vcpu=hw.numCPU, memory_gib=Decimal(hw.memoryMB) / MIB_PER_GIB,
                            disk_gib=Decimal(disk_kib) / KIB_PER_GIB, gpus_by_model=gpus, placement=scope, tags=tags)
        created = p.get("config.createDate")
        return Resource(provider_id=p["config.instanceUuid"], name=p["name"],
                        status=_POWER.get(str(p.get("runtime.powerState")), Status.UNKNOWN), spec=spec,
                        client_token=extra.get(TOKEN_KEY), scope=scope,
                        addresses=(p["guest.ipAddress"],) if p.get("guest.ipAddress") else (),
                        created_at=created.astimezone(UTC) if created else None,
                        details={"power_state": str(p.get("runtime.powerState")),
                                 "host": host.name if host is not None else None})


def _is_gpu(dev: Any) -> bool:
    """An NVIDIA display-class PCI device (VGA 0x0300 or 3D controller 0x0302)."""
    return dev.vendorId & 0xFFFF == NVIDIA_VENDOR_ID and dev.classId >> 8 == 0x03


def _passthrough(host: Any, dev: Any, key: int) -> Any:
    """A PCI passthrough device for one of ``host``'s GPUs (DirectPath I/O)."""
    from pyVmomi import vim

    backing = vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo(
        id=dev.id, deviceId=format(dev.deviceId & 0xFFFF, "x"), systemId=host.hardware.systemInfo.uuid,
        vendorId=dev.vendorId, deviceName=dev.deviceName)
    return vim.vm.device.VirtualPCIPassthrough(key=key, backing=backing)


def _extra(options: Any) -> dict[str, str]:
    return {o.key: str(o.value) for o in (options or [])}


def translate(exc: BaseException, what: str) -> errors.ConnectorError:
    """One pyvmomi / socket failure as a ``connectors.errors`` error (vSphere faults never carry the
    password; only the fault's own message is kept)."""
    from pyVmomi import vim, vmodl

    provider = "vsphere"
    name = type(exc).__name__
    text = str(exc).strip()
    message = getattr(exc, "msg", None) or (text.splitlines()[0] if text else name)
    details = {"fault": name}
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return errors.Timeout(f"{what}: vCenter did not answer in time", provider=provider)
    if isinstance(exc, (vim.fault.InvalidLogin, vim.fault.NotAuthenticated, vim.fault.NoPermission)):
        return errors.Unauthorised(f"{what}: vCenter refused the credentials or permission ({name})",
                                   provider=provider, details=details)
    if isinstance(exc, (vim.fault.InsufficientResourcesFault, vim.fault.OutOfBounds)):
        return errors.ProviderQuotaExceeded(f"{what}: {message}", provider=provider, details=details)
    if isinstance(exc, (vim.fault.NotFound, vmodl.fault.ManagedObjectNotFound)):
        return errors.NotFound(f"{what}: {message}", provider=provider, details=details)
    if isinstance(exc, (vim.fault.InvalidState, vim.fault.TaskInProgress, vim.fault.DuplicateName,
                        vim.fault.InvalidPowerState)):
        return errors.Conflict(f"{what}: {message}", provider=provider, details=details)
    if isinstance(exc, (vmodl.fault.InvalidArgument, vim.fault.InvalidDatastore, vmodl.fault.NotSupported)):
        return errors.InvalidSpec(f"{what}: {message}", provider=provider, details=details)
    if isinstance(exc, (ConnectionError, ssl.SSLError, OSError)):
        return errors.Unreachable(f"{what}: cannot reach vCenter ({name}: {exc})", provider=provider)
    return errors.ConnectorError(f"{what}: {name}: {message}", provider=provider, details=details)
