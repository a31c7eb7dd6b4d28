"""The largest batch that fits: real forward and backward steps of the network at growing batch
sizes (doubling, then a binary search between the last that fitted and the first that did not),
memory released between tries. On a GPU "fits" means no out-of-memory error; on a host without
GPUs it means the process's memory stays within a share of the host's (it says so).

The trainer runs the steps (digits.models.train, `find_batch`); here is the search and the file
the job's page reads.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from digits.files import write_json_atomically

RESULT_FILE = "batch_finder.json"
MAX_BATCH = 8192
MARGIN = 0.9  # what is proposed: this share of the largest that fitted, rounded down to 8s
HOST_SHARE = 0.5  # on a CPU, a batch fits while the process stays within this share of memory
TIMED_STEPS = 2  # steps timed per size, after one that warms up


class DoesNotFit(Exception):
    """A batch size that ran out of memory (or over the host's share)."""


@dataclass
class Tries:
    device: str  # "cuda" or "cpu"
    rows: list[dict] = field(default_factory=list)

    def record(self, batch: int, fits: bool, seconds: float | None, memory: int | None) -> None:
        speed = batch / seconds if fits and seconds else None
        self.rows.append(
            {"batch": batch, "fits": fits, "images_per_sec": speed, "memory_bytes": memory}
        )

    @property
    def largest(self) -> int | None:
        fitted = [row["batch"] for row in self.rows if row["fits"]]
        return max(fitted) if fitted else None

    def proposal(self) -> int | None:
        largest = self.largest
        if largest is None:
            return None
        margin = int(largest * MARGIN)
        return max(1, margin - margin % 8) if margin >= 8 else max(1, margin)

    def save(self, folder: Path, note: str) -> None:
        write_json_atomically(
            folder / RESULT_FILE,
            {
                "device": self.device,
                "note": note,
                "tries": sorted(self.rows, key=lambda row: row["batch"]),
                "largest": self.largest,
                "suggested": self.proposal(),
            },
        )


def search(try_batch: Callable[[int], tuple[float, int | None]], tries: Tries, limit: int) -> None:
    """Double from 1 until a size does not fit (or `limit`), then halve the gap between the
    largest that fitted and the smallest that did not, down to a step of 1/16 of the size."""

    def attempt(batch: int) -> bool:
        try:
            seconds, memory = try_batch(batch)
        except DoesNotFit:
            tries.record(batch, False, None, None)
            return False
        tries.record(batch, True, seconds, memory)
        return True

    good, bad = 0, None
    batch = 1
    while batch <= limit:
        if not attempt(batch):
            bad = batch
            break
        good, batch = batch, batch * 2
    if bad is None:
        return
    while good and bad - good > max(1, good // 16):
        middle = (good + bad) // 2
        if attempt(middle):
            good = middle
        else:
            bad = middle


def host_memory_budget() -> int:
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * HOST_SHARE)


def resident_bytes() -> int:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed(step: Callable[[], None], synchronize: Callable[[], None]) -> float:
    """Seconds per step, after a first step that warms up."""
    step()
    synchronize()
    started = time.perf_counter()
    for _ in range(TIMED_STEPS):
        step()
    synchronize()
    return (time.perf_counter() - started) / TIMED_STEPS


def read_result(folder: Path) -> dict | None:
    try:
        return json.loads((folder / RESULT_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
