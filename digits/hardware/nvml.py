"""The one place that talks to NVML: this host's GPUs and their figures.

No driver or no GPU (`pynvml.NVMLError`) is a normal case that means "no GPUs". A machine with
no GPU can stand a device list in with DIGITS_FAKE_GPUS=<JSON file>, read here and only here: the
tests use it for the Hardware page, leases and the stats panels, and it is re-read on every call
so that a test can change the figures while the page watches.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pynvml

FAKE_GPUS_ENV = "DIGITS_FAKE_GPUS"


@dataclass(frozen=True)
class GpuStats:
    """One GPU as NVML numbers it (PCI bus order: the order CUDA uses under PCI_BUS_ID)."""

    index: int
    name: str
    memory_total: int  # bytes
    memory_used: int
    utilization: int | None = None  # percent of the last sample period the GPU was busy
    temperature: int | None = None  # degrees Celsius
    power: float | None = None  # watts
    power_limit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_init_lock = threading.Lock()
_initialized = False


def read_gpus() -> list[GpuStats]:
    """Every GPU of this host with its current figures; [] when there is no GPU or driver."""
    fake = os.environ.get(FAKE_GPUS_ENV)
    if fake:
        return _read_fake(Path(fake))
    try:
        _ensure_initialized()
        return [_read_device(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except pynvml.NVMLError:
        return []


def gpu_indexes() -> list[int]:
    return [gpu.index for gpu in read_gpus()]


def _ensure_initialized() -> None:
    # nvmlInit costs tens of milliseconds: once per process, kept for its life.
    global _initialized
    with _init_lock:
        if not _initialized:
            pynvml.nvmlInit()
            _initialized = True


def _read_device(index: int) -> GpuStats:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    name = pynvml.nvmlDeviceGetName(handle)
    return GpuStats(
        index=index,
        name=name.decode() if isinstance(name, bytes) else name,
        memory_total=int(memory.total),
        memory_used=int(memory.used),
        utilization=_optional(lambda: pynvml.nvmlDeviceGetUtilizationRates(handle).gpu),
        temperature=_optional(
            lambda: pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)
        ),
        power=_optional(lambda: pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0),
        power_limit=_optional(lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0),
    )


def _optional(read):
    """A figure that some GPUs do not report (power on many consumer cards): None then."""
    try:
        return read()
    except pynvml.NVMLError:
        return None


def _read_fake(path: Path) -> list[GpuStats]:
    try:
        devices = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [GpuStats(**device) for device in devices]
