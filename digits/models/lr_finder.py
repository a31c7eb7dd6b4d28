"""The learning-rate range test (Smith, 2015; fast.ai's lr_find): a short training whose rate
grows exponentially from `low` to `high`, step by step, while the loss is recorded; the proposed
rate is where the loss falls fastest. The trainer runs the steps (Trainer.find_learning_rate);
here is the arithmetic, and the file the job's page reads.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from digits.files import write_json_atomically

RESULT_FILE = "lr_finder.json"
SMOOTHING = 0.9  # the loss is averaged exponentially (bias-corrected), as fast.ai does
DIVERGED = 4.0  # stop once the smoothed loss is this many times its best


def rate_at(step: int, steps: int, low: float, high: float) -> float:
    """The rate of step `step` of `steps`: low at the first, high at the last, exponential."""
    return low * (high / low) ** (step / max(1, steps - 1))


@dataclass
class RangeTest:
    """The losses as they come, smoothed; whether to stop; the proposal."""

    rows: list[dict[str, float]] = field(default_factory=list)
    _average: float = 0.0
    best: float = math.inf

    def add(self, rate: float, loss: float) -> bool:
        """Record one step; False once the loss has diverged (stop there)."""
        self._average = SMOOTHING * self._average + (1 - SMOOTHING) * loss
        smoothed = self._average / (1 - SMOOTHING ** (len(self.rows) + 1))
        self.rows.append({"lr": rate, "loss": smoothed, "raw_loss": loss})
        if not math.isfinite(smoothed) or smoothed > DIVERGED * self.best:
            return False
        self.best = min(self.best, smoothed)
        return True

    def suggestion(self) -> float | None:
        """The rate where the smoothed loss falls fastest (per decade of rate), before its
        lowest point; a tenth of the rate at the lowest point if it never falls."""
        finite = [r for r in self.rows if math.isfinite(r["loss"])]
        if len(finite) < 3:
            return None
        lowest = min(range(len(finite)), key=lambda i: finite[i]["loss"])
        slopes = [
            (finite[i + 1]["loss"] - finite[i]["loss"])
            / (math.log10(finite[i + 1]["lr"]) - math.log10(finite[i]["lr"]))
            for i in range(max(1, lowest))
        ]
        steepest = min(range(len(slopes)), key=slopes.__getitem__)
        if slopes[steepest] >= 0:
            return finite[lowest]["lr"] / 10
        return finite[steepest]["lr"]

    def save(self, folder: Path) -> None:
        write_json_atomically(
            folder / RESULT_FILE, {"rows": self.rows, "suggested": self.suggestion()}
        )


def read_result(folder: Path) -> dict | None:
    try:
        return json.loads((folder / RESULT_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
