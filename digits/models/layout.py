"""Where a model job keeps its files, inside its job folder (no torch here: the web reads it)."""

from __future__ import annotations

import re
from pathlib import Path

METRICS_FILE = "metrics.jsonl"  # one JSON object a line: training reports and validations
VAL_CONFUSION_FILE = "val_confusion.json"  # the validation confusion matrix at the best epoch
SNAPSHOT_PATTERN = re.compile(r"^snapshot_epoch_(\d+(?:\.\d+)?)\.pt$")


def snapshot_name(epoch: float) -> str:
    return f"snapshot_epoch_{epoch:g}.pt"


def list_snapshots(folder: Path) -> list[float]:
    epochs = []
    for path in folder.glob("snapshot_epoch_*.pt"):
        match = SNAPSHOT_PATTERN.match(path.name)
        if match:
            epochs.append(float(match.group(1)))
    return sorted(epochs)
