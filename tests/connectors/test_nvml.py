"""The NVML connector: the real no-driver path of this machine, and its parsing of recorded NVML values.

There is no GPU here, so the device values come from tests/connectors/fixtures/nvml_mixed_host.json,
served by ``RecordedNvml``: the pynvml functions the connector calls, returning nvidia-ml-py's own
ctypes structures and raising its own ``NVMLError`` classes, so the connector's parsing is what runs.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pynvml
import pytest

from connectors import errors
from connectors.base import ResourceSpec, Status
from connectors.nvml import NoDriver, NvmlConnector
from connectors.registry import connect

FIXTURE = Path(__file__).parent / "fixtures" / "nvml_mixed_host.json"
GIB = Decimal(1024**3)


def _has_driver() -> bool:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


class RecordedNvml:
    """pynvml's surface, answering from a recorded host (constants and errors are pynvml's own)."""

    NVML_ERROR_NOT_SUPPORTED = pynvml.NVML_ERROR_NOT_SUPPORTED
    NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU
    NVML_DEVICE_MIG_ENABLE = pynvml.NVML_DEVICE_MIG_ENABLE

    def __init__(self, recorded: dict[str, Any]) -> None:
        self.recorded = recorded
        self.initialised = 0
        self.calls: list[str] = []

    def _dev(self, handle: int) -> dict[str, Any]:
        assert self.initialised > 0, "an NVML call outside nvmlInit/nvmlShutdown"
        return self.recorded["devices"][handle]

    def nvmlInit(self) -> None:
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self.initialised -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.recorded["driver_version"]

    def nvmlDeviceGetCount(self) -> int:
        return len(self.recorded["devices"])

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if not 0 <= index < len(self.recorded["devices"]):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return index

    def nvmlDeviceGetName(self, h: int) -> str:
        return self._dev(h)["name"]

    def nvmlDeviceGetUUID(self, h: int) -> str:
        return self._dev(h)["uuid"]

    def nvmlDeviceGetMemoryInfo(self, h: int) -> pynvml.c_nvmlMemory_t:
        m = self._dev(h)["memory"]
        return pynvml.c_nvmlMemory_t(total=m["total"], free=m["free"], used=m["used"])

    def nvmlDeviceGetUtilizationRates(self, h: int) -> pynvml.c_nvmlUtilization_t:
        u = self._dev(h)["utilization"]
        return pynvml.c_nvmlUtilization_t(gpu=u["gpu"], memory=u["memory"])

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return self._dev(h)["temperature"]

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        if self._dev(h)["power_mw"] is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return self._dev(h)["power_mw"]

    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> list[Any]:
        out = []
        for p in self._dev(h)["processes"]:
            # pynvml returns friendly objects, NVML_VALUE_NOT_AVAILABLE memory as None.
            out.append(pynvml.nvmlFriendlyObject({"pid": p["pid"], "usedGpuMemory": p["usedGpuMemory"]}))
        return out

    def nvmlDeviceGetMigMode(self, h: int) -> list[int]:
        if self._dev(h)["mig_mode"] is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return list(self._dev(h)["mig_mode"])


@pytest.fixture
def recorded() -> RecordedNvml:
    return RecordedNvml(json.loads(FIXTURE.read_text()))


@pytest.fixture
def nvml(recorded: RecordedNvml) -> NvmlConnector:
    return NvmlConnector(nvml=recorded, region="gpu-host-7")


@pytest.mark.skipif(_has_driver(), reason="this machine has an NVIDIA driver")
def test_without_a_driver_the_probe_says_so_and_nothing_is_invented() -> None:
    conn = connect("nvml", None, None, {})  # the real pynvml of this machine
    result = conn.probe()
    assert result.ok is False and "no NVIDIA driver" in result.message
    assert result.details == {"reason": "no_driver"}
    for call in (conn.capacity, conn.list_resources, conn.metrics):
        with pytest.raises(NoDriver) as caught:
            call()
        assert isinstance(caught.value, errors.Unreachable) and caught.value.code == "CONNECTOR_UNREACHABLE"
        assert caught.value.details == {"nvml_error": "NVMLError_LibraryNotFound"}


def test_devices_are_parsed_from_recorded_values(nvml: NvmlConnector, recorded: RecordedNvml) -> None:
    h100, idle, t4 = nvml.devices()
    assert (h100.model, h100.name, h100.index) == ("H100", "NVIDIA H100 80GB HBM3", 0)
    assert h100.memory_total_gib == Decimal(85520809984) / GIB
    assert h100.memory_used_gib == Decimal(44451168256) / GIB
    assert (h100.utilisation_gpu, h100.utilisation_memory, h100.temperature_c) == (87, 54, 61)
    assert h100.power_w == Decimal("512.345")
    assert [(p.pid, p.used_memory_gib) for p in h100.processes] == [(4242, Decimal(43956305920) / GIB)]
    assert (h100.mig_current, h100.mig_pending) == (False, False)
    assert (idle.mig_current, idle.mig_pending, idle.processes) == (True, True, ())
    assert t4.model == "T4" and t4.power_w is None and t4.mig_current is None  # not supported there
    assert [(p.pid, p.used_memory_gib) for p in t4.processes] == [(777, None), (778, Decimal(1))]
    assert recorded.initialised == 0  # every nvmlInit was shut down


def test_capacity_counts_gpus_per_model_busy_ones_allocated(nvml: NvmlConnector) -> None:
    (host,) = nvml.capacity()
    assert (host.scope, host.kind) == ("gpu-host-7", "host")
    by_model = {a.model: a for a in host.accelerators}
    assert set(by_model) == {"H100", "T4"}
    assert by_model["H100"].amounts.total == 2 and by_model["H100"].amounts.allocated == 1
    assert by_model["H100"].amounts.used == Decimal("0.87")
    assert by_model["T4"].kind.value == "gpu" and by_model["T4"].use.value == "inference"
    assert host.dimensions()["gpus"].total == 3
    assert host.vcpu.total > 0 and host.memory_gib.total > 0
    assert [g["mig"] for g in host.details["gpus"]] == [False, True, None]


def test_gpus_are_listed_as_resources_and_metrics_are_per_gpu(nvml: NvmlConnector) -> None:
    resources = nvml.list_resources()
    assert [r.spec.gpus_by_model for r in resources] == [{"H100": 1}, {"H100": 1}, {"T4": 1}]
    assert all(r.status is Status.RUNNING for r in resources)
    uuid = resources[2].provider_id
    assert nvml.get(uuid).details["processes"] == 2
    metrics = {m.name: m for m in nvml.metrics(uuid)}
    assert metrics["gpu_utilisation"].value == 35 and metrics["gpu_temperature"].unit == "celsius"
    assert metrics["gpu_memory_used"].value == 3 and "gpu_power" not in metrics
    assert metrics["gpu_processes"].labels == {"gpu": uuid, "index": "2", "model": "T4"}
    assert len(nvml.metrics()) == 7 + 7 + 6
    with pytest.raises(errors.NotFound):
        nvml.get("GPU-unknown")


def test_the_probe_reports_the_driver_and_gpu_count(nvml: NvmlConnector) -> None:
    result = nvml.probe()
    assert result.ok and result.version == "550.54.15" and result.details == {"gpus": 3}


def test_nvml_cannot_manage_resources(nvml: NvmlConnector) -> None:
    for call in (lambda: nvml.create(ResourceSpec(name="x"), "t"), lambda: nvml.start("g"), lambda: nvml.stop("g"),
                 lambda: nvml.reboot("g"), lambda: nvml.resize("g", ResourceSpec(name="x")), lambda: nvml.delete("g")):
        with pytest.raises(errors.Unsupported):
            call()


def test_an_nvml_failure_mid_read_is_translated_and_the_session_closed(recorded: RecordedNvml) -> None:
    def lost(h: int) -> int:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)

    recorded.nvmlDeviceGetTemperature = lambda h, sensor: lost(h)  # type: ignore[method-assign]
    with pytest.raises(errors.Unreachable, match="GPU is lost"):
        NvmlConnector(nvml=recorded).devices()
    assert recorded.initialised == 0
