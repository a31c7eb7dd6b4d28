"""A stand-in device list for hosts with no GPU: the file DIGITS_FAKE_GPUS points NVML's seam at."""

from __future__ import annotations

import json
from pathlib import Path

GIB = 2**30


def write_fake_gpus(path: Path, count: int = 2, **figures) -> Path:
    """`count` GPUs named like an H100, each with `figures` (utilization=37, say) over defaults."""
    devices = [
        {
            "index": i,
            "name": "NVIDIA H100 80GB HBM3",
            "memory_total": 80 * GIB,
            "memory_used": 1 * GIB,
            "utilization": 0,
            "temperature": 31,
            "power": 70.0,
            "power_limit": 700.0,
        }
        | figures
        for i in range(count)
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(devices))
    tmp.replace(path)  # whole, so a reader never sees half a file
    return path
