"""Where a worker runs a trained network for a person (Classify One, Classify Many, Top N and the
layer views): a GPU that no training holds, else a GPU a training holds if it has room (this
process then takes at most a capped share of its memory), else the CPU. The answer says which.

Inference takes no lease: it never makes a training wait, and a GPU's holder is read from the
same lease files the trainings write (digits.hardware.leases).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from digits.config import Settings
from digits.hardware import nvml
from digits.hardware.leases import GpuPool

GIB = 2**30
# What inference may take of a GPU a training holds: at most this, and half of what is free.
SHARED_MEMORY_CAP = 4 * GIB
# Below this free on every held GPU, the CPU answers instead (a training near its limit would
# otherwise be the one to run out of memory).
SHARED_MEMORY_NEEDED = 1 * GIB


@dataclass(frozen=True)
class InferenceDevice:
    name: str  # "cpu" or "cuda:N", N as NVML and the Hardware page number the GPUs
    note: str  # why this one, in the user's words
    memory_cap: int | None = None  # bytes this process may take of a shared GPU

    @property
    def index(self) -> int | None:
        return int(self.name.split(":")[1]) if self.name.startswith("cuda:") else None

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.name, "device_note": self.note}


def choose(
    cuda_count: int,
    gpus: Mapping[int, nvml.GpuStats],
    holders: Mapping[int, Mapping[str, Any] | None],
) -> InferenceDevice:
    """The device for one request or job: `cuda_count` GPUs PyTorch can use, NVML's figures of
    those it knows, and each GPU's holding training (None: free)."""
    if cuda_count == 0:
        return InferenceDevice("cpu", "the CPU: this host has no GPU that PyTorch can use")
    indexes = range(cuda_count)

    def room(index: int) -> int:
        stats = gpus.get(index)
        return stats.memory_total - stats.memory_used if stats else 0

    free = [i for i in indexes if holders.get(i) is None]
    if free:
        best = max(free, key=lambda i: (room(i), -i))
        return InferenceDevice(f"cuda:{best}", f"GPU {best}, which no training holds")
    best = max(indexes, key=lambda i: (room(i), -i))
    if room(best) < SHARED_MEMORY_NEEDED:
        return InferenceDevice(
            "cpu",
            f"the CPU: every GPU is held by a training, none with {SHARED_MEMORY_NEEDED // GIB} "
            "GiB free",
        )
    cap = min(SHARED_MEMORY_CAP, room(best) // 2)
    holder = holders[best] or {}
    training = f"{holder.get('name') or 'a training'} ({holder.get('job_id', '?')})"
    return InferenceDevice(
        f"cuda:{best}",
        f"GPU {best}, shared with training {training}: this answer took at most "
        f"{cap / GIB:.1f} GiB of its memory",
        memory_cap=cap,
    )


def inference_device(settings: Settings, host: str) -> InferenceDevice:
    """Choose now, for this host's GPUs, and cap this process's share of a shared GPU."""
    if settings.inference_device == "cpu":
        return InferenceDevice("cpu", "the CPU, as this server is configured (inference_device)")
    # NVML numbers GPUs in PCI bus order; so must CUDA, before it starts in this process.
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    import torch

    cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if cuda_count == 0:
        return choose(0, {}, {})
    holders = GpuPool(settings.jobs_dir, range(cuda_count), host).holders()
    device = choose(cuda_count, {g.index: g for g in nvml.read_gpus()}, holders)
    if device.index is not None:
        total = torch.cuda.get_device_properties(device.index).total_memory
        fraction = device.memory_cap / total if device.memory_cap else 1.0
        torch.cuda.set_per_process_memory_fraction(min(1.0, fraction), device.index)
    return device
