"""Probe images: validation images whose top predictions the model page follows, epoch by
epoch (those the person picked, the first N, or the N the network gets most wrong)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from digits.datasets import layout
from digits.datasets.database import records_at
from digits.files import write_json_atomically
from digits.models.layout import PROBE_PICKS_FILE, picked_probes

PROBE_TOP = 3  # classes shown per probe image and validation
HARDEST_FROM = 2000  # validation images among which the hardest probe images are picked
HARDEST_BATCH = 64


@torch.no_grad()
def pick_hardest_probes(trainer) -> torch.Tensor | None:
    """The `probe_images` validation images (of the first HARDEST_FROM) with the highest
    loss now, recorded in the job's folder by number (a resumed run follows the same)."""
    records = records_at(trainer.val_database, range(HARDEST_FROM))
    if not records:
        return None
    losses = []
    trainer.model.eval()
    try:
        for start in range(0, len(records), HARDEST_BATCH):
            batch = records[start : start + HARDEST_BATCH]
            images = trainer.preprocess(as_batch(batch).to(trainer.env.device))
            labels = torch.tensor([r.label for r in batch], device=trainer.env.device)
            with trainer.autocast():
                logits = trainer.model(images).float()
            losses += nn.functional.cross_entropy(logits, labels, reduction="none").tolist()
    finally:
        trainer.model.train()
    hardest = sorted(range(len(records)), key=lambda i: -losses[i])[: trainer.options.probe_images]
    folder = trainer.snapshot_context.folder
    write_json_atomically(folder / PROBE_PICKS_FILE, {"records": hardest})
    trainer.reporter.log(f"probe images: the {len(hardest)} hardest, numbers {hardest}")
    return as_batch([records[i] for i in hardest])


@torch.no_grad()
def classify_probes(trainer) -> list[list[list[float]]]:
    """Each probe image's top 3 classes now: [[class, probability], ...]."""
    trainer.model.eval()
    try:
        images = trainer.preprocess(trainer.probe_images.to(trainer.env.device))
        with trainer.autocast():
            scores = torch.softmax(trainer.model(images).float(), dim=1)
    finally:
        trainer.model.train()
    top = scores.topk(min(PROBE_TOP, scores.shape[1]), dim=1)
    return [
        [[int(c), round(float(p), 4)] for c, p in zip(classes, chances, strict=True)]
        for classes, chances in zip(top.indices.tolist(), top.values.tolist(), strict=True)
    ]


def probe_images(dataset_folder: Path, options, folder: Path) -> torch.Tensor | None:
    """The probe images (those the person picked, those a first run found hardest, else the
    first `probe_images` of the validation set), as the loaders give them."""
    path = dataset_folder / layout.database("val")
    indexes = picked_probes(folder) or options.probe_indexes
    if not indexes or not path.exists():
        return None
    records = records_at(path, indexes)
    return as_batch(records) if records else None


def as_batch(records: list) -> torch.Tensor:
    """Database records as one uint8 batch, N x C x H x W, as the loaders give images."""
    return torch.from_numpy(np.stack([r.pixels().transpose(2, 0, 1) for r in records]))
