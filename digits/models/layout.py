"""Where a model job keeps its files, inside its job folder (no torch here: the web reads it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from digits.files import read_regular

METRICS_FILE = "metrics.jsonl"  # one JSON object a line: training reports and validations
VAL_CONFUSION_FILE = "val_confusion.json"  # the validation confusion matrix at the best epoch
PROBES_FILE = "probes.jsonl"  # per validation, the probe images' top predictions
PROBE_PICKS_FILE = "probe_picks.json"  # the probe images the network found hardest, by number
SEARCH_STUDY_FILE = "study.journal"  # a search's Optuna study (its journal file)
SEARCH_SUMMARY_FILE = "search.json"  # a search's trials as its page shows them
# DIGITS' files of a model, written when its training starts (its JSON names them).
MODEL_LABELS = "labels.txt"
MODEL_MEAN = "mean.npy"
MODEL_NETWORK = "network.py"
# Classify Many's inputs, staged by the web layer: a list of images, or an uploaded archive
# that the job unpacks into the upload folder on its worker.
CLASSIFY_LIST_FILE = "images.txt"
CLASSIFY_UPLOAD_ARCHIVE = "upload.archive"
CLASSIFY_UPLOAD_FOLDER = "upload"
# An imported model's own files (network.py, labels.txt, info.json, mean.npy): what its
# snapshot needs to classify, since no dataset or training options describe it.
IMPORTED_FOLDER = "imported"
IMPORTED_INFO = "info.json"
IMPORTED_NETWORK = "network.py"
IMPORTED_MEAN = "mean.npy"
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


class NoSuchSnapshot(FileNotFoundError):
    """A snapshot asked for that the model does not have; the message says what it has."""


def resolve_epoch(folder: Path, epoch: float | None = None) -> float:
    """The epoch of the snapshot asked for: `epoch` if the model has it, else its latest."""
    epochs = list_snapshots(folder)
    if not epochs:
        raise NoSuchSnapshot("this model has no snapshot yet")
    if epoch is None:
        return epochs[-1]
    if epoch not in epochs:
        listed = ", ".join(f"{e:g}" for e in epochs)
        raise NoSuchSnapshot(f"no snapshot at epoch {epoch:g}; this model has {listed}")
    return epoch


def imported_info(folder: Path) -> dict | None:
    """An imported model's declared preprocessing and labels (info.json), or None for a model
    trained here."""
    try:
        return json.loads(read_regular(folder / IMPORTED_FOLDER / IMPORTED_INFO))
    except FileNotFoundError:
        return None


def picked_probes(folder: Path) -> tuple[int, ...] | None:
    """The validation images a model picked to follow (the hardest at its first validation),
    by number; None before it has picked."""
    try:
        return tuple(json.loads(read_regular(folder / PROBE_PICKS_FILE))["records"])
    except (FileNotFoundError, ValueError, KeyError):
        return None
