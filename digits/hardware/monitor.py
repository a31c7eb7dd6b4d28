"""Figures for the pages: a host's GPUs with their holders, and a running job's usage."""

from __future__ import annotations

import time
from typing import Any

from digits.hardware import nvml
from digits.hardware.leases import GpuPool
from digits.hardware.usage import TreeUsage


def gpu_inventory(pool: GpuPool) -> list[dict[str, Any]]:
    """Each GPU the host offers: NVML's figures and the job that holds it (None if free)."""
    stats = {gpu.index: gpu.to_dict() for gpu in nvml.read_gpus()}
    holders = pool.holders()
    return [
        stats.get(index, {"index": index, "name": "not seen by NVML"})
        | {"held_by": holders.get(index)}
        for index in pool.offered
    ]


class JobMonitor:
    """One sample a call of a job's processes (CPU, memory) and of the GPUs it leased."""

    def __init__(self, root_pid: int, gpus: tuple[int, ...]):
        self.usage = TreeUsage(root_pid)
        self.gpus = gpus

    def sample(self) -> dict[str, Any]:
        gpus = [gpu.to_dict() for gpu in nvml.read_gpus() if gpu.index in self.gpus]
        return {"time": time.time(), **self.usage.sample(), "gpus": gpus}
