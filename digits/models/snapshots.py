"""Snapshots: everything needed to use or resume a training, written atomically.

`snapshot_epoch_<N>.pt` holds the model's weights, the optimizer, the training position and RNG
states, the job's parameters and the labels; it loads with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import errno
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from digits.jobs.context import JobError
from digits.models.layout import list_snapshots, resolve_epoch, snapshot_name

FORMAT = 1


@dataclass
class TrainingState:
    step: int = 0  # optimizer steps taken
    # The best validation so far by the task's metric (its one judge of "best"), and the epoch
    # it came at: what early stopping waits on, snapshot pruning keeps and the page shows.
    best_score: float | None = None
    best_epoch: float | None = None

    def note_validation(self, row: dict, metric) -> bool:
        """Remember the validation if it is the best so far by `metric`; whether it is."""
        value = row.get(metric.key)
        if value is None or not metric.better(value, self.best_score):
            return False
        self.best_score, self.best_epoch = value, row["epoch"]
        return True

    @classmethod
    def from_dict(cls, data: dict) -> TrainingState:
        """A snapshot's state. One written before the task's metric judged "best" (it kept the
        lowest loss and a separate score) resumes with no best: the next validation is."""
        if "best_val_loss" in data:
            return cls(step=data["step"])
        return cls(**data)


@dataclass
class SnapshotContext:
    folder: Path
    parameters: dict[str, Any]
    labels: list[str]
    options: Any
    is_main: bool


def save(
    context: SnapshotContext,
    model,
    optimizer,
    state: TrainingState,
    epoch_steps: int,
    rng: list[dict[str, torch.Tensor]],
) -> None:
    """Rank 0 writes; to a temporary file first, then renamed over the target.

    `rng` holds every rank's random states (see `rank_rng_state`), so that a resumed training
    draws the same augmentations and dropout as an uninterrupted one would have.
    """
    if not context.is_main:
        return
    epoch = round(state.step / epoch_steps, 4)
    data = {
        "format": FORMAT,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "state": asdict(state),
        "rng": rng,
        "parameters": context.parameters,
        "labels": context.labels,
    }
    target = context.folder / snapshot_name(epoch)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with open(tmp, "wb") as out:
            torch.save(data, out)
            out.flush()
            os.fsync(out.fileno())  # on disk before the rename: a crash leaves old or new
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # the earlier snapshots were never touched
        if exc.errno != errno.ENOSPC:
            raise
        kept = list_snapshots(context.folder)
        intact = f"; the snapshot of epoch {kept[-1]:g} is intact" if kept else ""
        raise JobError(
            f"no space left on the device for the snapshot of epoch {epoch:g}{intact}"
        ) from exc
    os.replace(tmp, target)
    if context.options.keep_snapshots:
        prune(context.folder, context.options.keep_snapshots, state.best_epoch)


def rank_rng_state(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """This rank's random states: torch's global ones (dropout) and the augmentation one."""
    state = {"torch": torch.get_rng_state(), "augmentation": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng_state(saved: dict[str, torch.Tensor], generator: torch.Generator) -> None:
    torch.set_rng_state(saved["torch"])
    generator.set_state(saved["augmentation"])
    if "cuda" in saved and torch.cuda.is_available():
        torch.cuda.set_rng_state(saved["cuda"])


def prune(folder: Path, keep: int, best_epoch: float | None) -> None:
    """Keep the last `keep` snapshots and the best one (DIGITS #15: disks filled up)."""
    epochs = list_snapshots(folder)
    for epoch in epochs[:-keep]:
        if epoch != best_epoch:
            (folder / snapshot_name(epoch)).unlink(missing_ok=True)


def load(folder: Path, epoch: float | None = None) -> dict[str, Any]:
    """A snapshot (the latest if no epoch), on the CPU; NoSuchSnapshot if there is none."""
    path = folder / snapshot_name(resolve_epoch(folder, epoch))
    return torch.load(path, map_location="cpu", weights_only=True)


def read_header(folder: Path, epoch: float | None = None) -> dict[str, Any]:
    """A snapshot's parameters, labels and epoch, without keeping its tensors."""
    snapshot = load(folder, epoch)
    return {key: snapshot[key] for key in ("parameters", "labels", "epoch")}
