"""From stored pixels to network input: one code path for training, validation, classifying and
the downloaded archive, so the same image gives the same numbers everywhere.

Input batches are uint8 N x C x H x W tensors as the dataset reader gives them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Preprocessing:
    """Mean subtraction, cropping, scaling to about [-1, 1]; flips only while training."""

    mean_mode: str = "image"
    mean: np.ndarray | None = None  # H x W x C float32 mean image of the training set
    crop_size: int | None = None
    flip: str = "none"

    def __post_init__(self):
        self._mean = None
        if self.mean_mode != "none" and self.mean is not None:
            mean = torch.from_numpy(np.asarray(self.mean, dtype=np.float32)).permute(2, 0, 1)
            self._mean = mean.mean(dim=(1, 2), keepdim=True) if self.mean_mode == "pixel" else mean

    def __call__(
        self, batch: torch.Tensor, train: bool = False, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        x = batch.float()
        if self._mean is not None:
            x = x - self._mean.to(x.device)
        if self.crop_size:
            x = self._crop(x, train, generator)
        if train and self.flip != "none":
            x = self._flip(x, generator)
        return x / 255.0

    def _crop(self, x: torch.Tensor, train: bool, generator) -> torch.Tensor:
        height, width = x.shape[-2:]
        size = self.crop_size
        if train:  # one random window per batch keeps the step cheap and still varies
            top = int(torch.randint(0, height - size + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - size + 1, (1,), generator=generator))
        else:
            top, left = (height - size) // 2, (width - size) // 2
        return x[..., top : top + size, left : left + size]

    def _flip(self, x: torch.Tensor, generator) -> torch.Tensor:
        for axis, kind in ((-1, "lr"), (-2, "ud")):
            if kind in self.flip:
                chosen = torch.rand(x.shape[0], generator=generator) < 0.5
                x = torch.where(chosen[:, None, None, None].to(x.device), x.flip(axis), x)
        return x

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return (self.crop_size, self.crop_size) if self.crop_size else (height, width)
