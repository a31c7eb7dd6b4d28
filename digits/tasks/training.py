"""What a task's training module provides (imported only where torch is): the contract the
trainer calls. A task's `training` module defines `TaskTraining`, a subclass of this."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from digits.models.distributed import Distributed


@dataclass
class Evaluation:
    """One validation over the whole validation set: the metrics row's figures (summed across
    ranks), and what the task keeps of the best one (a confusion matrix, say)."""

    figures: dict[str, float]
    kept: dict[str, Any] = field(default_factory=dict)


class TrainingContract:
    """The loss, the targets and the evaluation of one kind of problem."""

    def __init__(self, dataset_folder: Path, info, options, env: Distributed):
        self.dataset_folder, self.info, self.options, self.env = dataset_folder, info, options, env

    def criterion(self) -> torch.nn.Module:
        """The training loss, mean over a batch, of (network outputs, batch targets)."""
        raise NotImplementedError

    def batch_targets(self, images: torch.Tensor, labels: torch.Tensor, split: str):
        """What the loss compares the network's outputs with, for a batch as the loaders give
        it (uint8 images, stored labels), on the device."""
        return labels.to(self.env.device, non_blocking=True)

    def random_labels(self, batch: int) -> torch.Tensor:
        """Stored labels of the right kind for a batch of random images (the batch finder)."""
        return torch.zeros(batch, dtype=torch.int64)

    def evaluate(self, model, loader, preprocess, autocast) -> Evaluation:
        raise NotImplementedError

    def keep_best(self, folder: Path, epoch: float, evaluation: Evaluation) -> None:
        """Rank 0, when a validation is the best so far: keep what its page shows of it."""
