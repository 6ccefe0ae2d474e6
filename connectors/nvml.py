"""NVML connector: the NVIDIA GPUs of the host it runs on, through nvidia-ml-py (``pynvml``).

NVML is a local library, so an account of this type stands for one bare GPU host and the
connector runs on it (no endpoint). It reads, per device: the product name (and the pool model
it normalises to, "NVIDIA H100 80GB HBM3" -> "H100"), UUID, memory total/used, GPU and memory
utilisation, temperature, power draw, the compute processes and their memory, and MIG mode
(current and pending; ``None`` on GPUs without MIG).

- **probe**: ``nvmlInit``; on a host without a driver (``NVMLError_LibraryNotFound``,
  ``NVMLError_DriverNotLoaded``, ...) it answers ``ok=False`` with a message that says so,
  instead of an empty or made-up inventory.
- **capacity**: one ``host`` scope: the host's CPUs and memory (this machine's), GPUs per model with
  ``allocated`` = devices running at least one compute process and ``used`` = summed GPU
  utilisation (in GPUs). Every other method raises ``NoDriver`` (an ``Unreachable``) without a driver.
- **resources**: the GPUs themselves (``provider_id`` = GPU UUID, status ``running``), so they can
  be imported and assigned to tenants; NVML cannot create, power or delete anything
  (``Unsupported``).
- **metrics**: per GPU, ``gpu_utilisation``, ``gpu_memory_utilisation`` (percent),
  ``gpu_memory_used`` / ``gpu_memory_total`` (GiB), ``gpu_temperature`` (celsius), ``gpu_power``
  (watts), ``gpu_processes`` (count), labelled with the GPU's UUID, index and model.

The ``nvml`` constructor argument is the seam: the ``pynvml`` module by default; tests pass an
object with the same functions returning recorded values (there is no GPU on the CI machines).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
    normalise_gpu_model,
)

BYTES_PER_GIB = Decimal(1024**3)
NO_DRIVER_ERRORS = ("NVMLError_LibraryNotFound", "NVMLError_DriverNotLoaded", "NVMLError_FunctionNotFound",
                    "NVMLError_NoPermission", "NVMLError_Uninitialized")


class NoDriver(errors.Unreachable):
    """No usable NVIDIA driver on this host (library missing, driver not loaded). Retryable: the
    driver may be installed later; the probe reports it as ``ok=False``."""


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    used_memory_gib: Decimal | None  # None: NVML could not say (e.g. without permission)


@dataclass(frozen=True)
class GpuDevice:
    """One GPU as NVML reports it, in the platform's units."""

    index: int
    uuid: str
    name: str
    model: str
    memory_total_gib: Decimal
    memory_used_gib: Decimal
    utilisation_gpu: int  # percent, over NVML's last sample period
    utilisation_memory: int
    temperature_c: int
    power_w: Decimal | None
    processes: tuple[GpuProcess, ...]
    mig_current: bool | None  # None: this GPU has no MIG
    mig_pending: bool | None


class NvmlConnector(Connector):
    """The GPUs of this host (see the module docstring)."""

    provider_type = "nvml"
    credential_fields = ()
    endpoint_required = False

    def __init__(self, *, nvml: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("endpoint", None)
        kwargs.setdefault("region", None)
        kwargs.setdefault("credentials", {})
        super().__init__(**kwargs)
        self._nvml = nvml

    def _lib(self) -> Any:
        if self._nvml is None:
            import pynvml

            self._nvml = pynvml
        return self._nvml

    @contextmanager
    def _session(self, what: str) -> Iterator[Any]:
        """nvmlInit ... nvmlShutdown around one call; NVML errors translated."""
        lib = self._lib()
        try:
            lib.nvmlInit()
        except Exception as exc:  # noqa: BLE001 - every NVML failure is translated
            raise translate(exc, what) from None
        try:
            yield lib
        except errors.ConnectorError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise translate(exc, what) from None
        finally:
            with contextlib.suppress(Exception):  # shutting down a session that may have failed anyway
                lib.nvmlShutdown()

    # -- reading devices --------------------------------------------------------------------

    def devices(self) -> list[GpuDevice]:
        """Every GPU of this host, read now."""
        with self._session("read GPUs") as lib:
            return [self._device(lib, i) for i in range(lib.nvmlDeviceGetCount())]

    def _device(self, lib: Any, index: int) -> GpuDevice:
        h = lib.nvmlDeviceGetHandleByIndex(index)
        name = _text(lib.nvmlDeviceGetName(h))
        memory = lib.nvmlDeviceGetMemoryInfo(h)
        util = lib.nvmlDeviceGetUtilizationRates(h)
        processes = tuple(
            GpuProcess(int(p.pid), None if p.usedGpuMemory is None else Decimal(p.usedGpuMemory) / BYTES_PER_GIB)
            for p in lib.nvmlDeviceGetComputeRunningProcesses(h))
        power = _optional(lib, lambda: lib.nvmlDeviceGetPowerUsage(h))
        mig = _optional(lib, lambda: lib.nvmlDeviceGetMigMode(h))
        enable = getattr(lib, "NVML_DEVICE_MIG_ENABLE", 1)
        return GpuDevice(
            index=index, uuid=_text(lib.nvmlDeviceGetUUID(h)), name=name, model=normalise_gpu_model(name),
            memory_total_gib=Decimal(memory.total) / BYTES_PER_GIB,
            memory_used_gib=Decimal(memory.used) / BYTES_PER_GIB,
            utilisation_gpu=int(util.gpu), utilisation_memory=int(util.memory),
            temperature_c=int(lib.nvmlDeviceGetTemperature(h, getattr(lib, "NVML_TEMPERATURE_GPU", 0))),
            power_w=None if power is None else Decimal(power) / 1000, processes=processes,
            mig_current=None if mig is None else mig[0] == enable,
            mig_pending=None if mig is None else mig[1] == enable)

    # -- the interface ----------------------------------------------------------------------

    def probe(self) -> ProbeResult:
        began = time.monotonic()
        try:
            with self._session("probe") as lib:
                driver = _text(lib.nvmlSystemGetDriverVersion())
                count = lib.nvmlDeviceGetCount()
        except NoDriver as exc:
            return ProbeResult(ok=False, message=exc.message, latency_ms=int((time.monotonic() - began) * 1000),
                               details={"reason": "no_driver"})
        return ProbeResult(ok=True, message=f"NVIDIA driver {driver}, {count} GPU(s)", version=driver,
                           latency_ms=int((time.monotonic() - began) * 1000), details={"gpus": count})

    def capacity(self) -> list[Capacity]:
        devices = self.devices()
        by_model: dict[str, list[GpuDevice]] = {}
        for d in devices:
            by_model.setdefault(d.model, []).append(d)
        accelerators = []
        for model, group in sorted(by_model.items()):
            kind, use = accelerator_profile(model)
            busy = sum(1 for d in group if d.processes)
            used = sum(Decimal(d.utilisation_gpu) for d in group) / 100
            accelerators.append(AcceleratorCapacity(model, Amounts(Decimal(len(group)), Decimal(busy), used), kind, use,
                                                    memory_gib=min(d.memory_total_gib for d in group)))
        return [Capacity(scope=self.region or socket.gethostname(), kind="host",
                         vcpu=Amounts(Decimal(os.cpu_count() or 0)), memory_gib=Amounts(_host_memory_gib()),
                         accelerators=tuple(accelerators),
                         details={"gpus": [{"index": d.index, "uuid": d.uuid, "name": d.name,
                                            "mig": d.mig_current} for d in devices]})]

    def list_resources(self) -> list[Resource]:
        return [self._resource(d) for d in self.devices()]

    def get(self, provider_id: str) -> Resource:
        for d in self.devices():
            if d.uuid == provider_id:
                return self._resource(d)
        raise errors.NotFound(f"no GPU with UUID {provider_id} on this host", provider=self.provider_type)

    def _resource(self, d: GpuDevice) -> Resource:
        spec = ResourceSpec(name=f"gpu{d.index}", memory_gib=d.memory_total_gib, gpus_by_model={d.model: 1})
        return Resource(provider_id=d.uuid, name=f"gpu{d.index}", status=Status.RUNNING, spec=spec,
                        scope=self.region or socket.gethostname(),
                        details={"name": d.name, "index": d.index, "mig_current": d.mig_current,
                                 "mig_pending": d.mig_pending, "processes": len(d.processes)})

    def _unsupported(self, what: str) -> errors.Unsupported:
        return errors.Unsupported(f"NVML reads GPUs; it cannot {what}", provider=self.provider_type)

    def create(self, spec: ResourceSpec, client_token: str) -> Resource:
        raise self._unsupported("create a resource")

    def start(self, provider_id: str) -> Resource:
        raise self._unsupported("start a GPU")

    def stop(self, provider_id: str) -> Resource:
        raise self._unsupported("stop a GPU")

    def reboot(self, provider_id: str) -> Resource:
        raise self._unsupported("reboot a GPU")

    def resize(self, provider_id: str, spec: ResourceSpec) -> Resource:
        raise self._unsupported("resize a GPU")

    def delete(self, provider_id: str) -> Resource:
        raise self._unsupported("delete a GPU")

    def metrics(self, provider_id: str | None = None, since: datetime | None = None) -> list[Metric]:
        devices = self.devices()
        now = datetime.now(UTC)
        if provider_id is not None:
            devices = [d for d in devices if d.uuid == provider_id]
            if not devices:
                raise errors.NotFound(f"no GPU with UUID {provider_id} on this host", provider=self.provider_type)
        out = []
        for d in devices:
            labels = {"gpu": d.uuid, "index": str(d.index), "model": d.model}
            values = [("gpu_utilisation", Decimal(d.utilisation_gpu), "percent"),
                      ("gpu_memory_utilisation", Decimal(d.utilisation_memory), "percent"),
                      ("gpu_memory_used", d.memory_used_gib, "GiB"), ("gpu_memory_total", d.memory_total_gib, "GiB"),
                      ("gpu_temperature", Decimal(d.temperature_c), "celsius"),
                      ("gpu_processes", Decimal(len(d.processes)), "count")]
            if d.power_w is not None:
                values.append(("gpu_power", d.power_w, "watts"))
            out += [Metric(name, value, unit, now, provider_id, labels) for name, value, unit in values]
        return out


def _text(value: Any) -> str:
    """nvidia-ml-py returns ``str``; older pynvml releases returned ``bytes``."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _optional(lib: Any, call: Callable[[], Any]) -> Any:
    """A value some GPUs do not have (MIG mode, power): None when NVML says not supported."""
    not_supported = getattr(lib, "NVML_ERROR_NOT_SUPPORTED", 3)
    try:
        return call()
    except Exception as exc:
        if getattr(exc, "value", None) == not_supported:
            return None
        raise


def _host_memory_gib() -> Decimal:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return Decimal(0)
    return (Decimal(pages) * Decimal(size) / BYTES_PER_GIB).quantize(Decimal("0.001"))


def translate(exc: BaseException, what: str) -> errors.ConnectorError:
    """An ``NVMLError`` as a ``connectors.errors`` error: a missing or unloaded driver is ``NoDriver``."""
    name = type(exc).__name__
    if name in NO_DRIVER_ERRORS:
        return NoDriver(f"{what}: no NVIDIA driver on this host ({exc}); install the driver to use its GPUs",
                        provider="nvml", details={"nvml_error": name})
    if name == "NVMLError_Timeout":
        return errors.Timeout(f"{what}: NVML timed out", provider="nvml", details={"nvml_error": name})
    if name in ("NVMLError_GpuIsLost", "NVMLError_Unknown"):
        return errors.Unreachable(f"{what}: {exc}", provider="nvml", details={"nvml_error": name})
    if name == "NVMLError_NotFound":
        return errors.NotFound(f"{what}: {exc}", provider="nvml", details={"nvml_error": name})
    return errors.ConnectorError(f"{what}: {name}: {exc}", provider="nvml", details={"nvml_error": name})
