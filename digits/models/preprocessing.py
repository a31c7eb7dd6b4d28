"""From stored pixels to network input: one code path for training, validation, classifying and
the downloaded archive, so the same image gives the same numbers everywhere.

Input batches are uint8 N x C x H x W tensors as the dataset reader gives them. `InputTransform`
is what every use shares (mean, centre crop, scale); it is a module, so the exported TorchScript
and ONNX models carry it inside and a user's script cannot get it wrong. This file imports only
torch and numpy: the example scripts load it by path, without the `digits` package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Normalization = tuple[tuple[float, ...], tuple[float, ...]]  # per-channel mean, std on 0..1


class InputTransform(nn.Module):
    """Stored uint8 pixels -> network input: minus the mean, centre crop, divided by 255, and
    where the network was trained so (pretrained ones), (x - mean) / std per channel."""

    def __init__(
        self,
        mean: torch.Tensor | None,
        crop_size: int | None,
        normalization: Normalization | None = None,
        channels: int | None = None,
        size: tuple[int, int] | None = None,
    ):
        super().__init__()
        # A pretrained network's own input, where the dataset's differs: grayscale repeated to
        # its colour channels, the image resized to the size it needs.
        self.channels = channels or 0
        self.size = tuple(size) if size else ()
        self.subtract_mean = mean is not None
        self.register_buffer("mean", mean if mean is not None else torch.zeros(0))
        self.crop_size = crop_size or 0
        self.normalize = normalization is not None
        centre, spread = normalization or ((), ())
        self.register_buffer("channel_mean", torch.tensor(centre).view(1, -1, 1, 1))
        self.register_buffer("channel_std", torch.tensor(spread).view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        if self.subtract_mean:
            x = x - self.mean
        if self.crop_size:
            x = centre_crop(x, self.crop_size)
        return self.scale(self.adapt(x))

    def adapt(self, x: torch.Tensor) -> torch.Tensor:
        """Stored images -> the channels and size the network was made for (if others)."""
        if self.channels and x.shape[1] == 1 and self.channels != 1:
            x = x.repeat(1, self.channels, 1, 1)
        if self.size and tuple(x.shape[-2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        return x

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """0..255 pixels (mean already subtracted) -> the network's scale."""
        x = x / 255.0
        if self.normalize:
            x = (x - self.channel_mean) / self.channel_std
        return x


def normalization_of(options) -> Normalization | None:
    """The per-channel normalization that training options (or a model's info) declare."""
    if options.normalize_mean is None or options.normalize_std is None:
        return None
    return tuple(options.normalize_mean), tuple(options.normalize_std)


def centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    height, width = x.shape[-2], x.shape[-1]
    top, left = (height - size) // 2, (width - size) // 2
    return x[..., top : top + size, left : left + size]


def mean_tensor(mean_mode: str, mean: np.ndarray | None) -> torch.Tensor | None:
    """The mean to subtract as C x H x W ("image") or C x 1 x 1 ("pixel"), or None."""
    if mean_mode == "none" or mean is None:
        return None
    image = torch.from_numpy(np.asarray(mean, dtype=np.float32)).permute(2, 0, 1).contiguous()
    return image.mean(dim=(1, 2), keepdim=True) if mean_mode == "pixel" else image


@dataclass
class Preprocessing:
    """Mean subtraction, cropping, scaling to about [-1, 1]; augmentation only while training."""

    mean_mode: str = "image"
    mean: np.ndarray | None = None  # H x W x C float32 mean image of the training set
    crop_size: int | None = None
    flip: str = "none"  # DIGITS' aug_flip
    quad_rotation: str = "none"  # aug_quad_rot: rot90, rot180 or rotall (any quarter turn)
    rotation: float = 0.0  # aug_rot: random rotation up to this many degrees either way
    scale: float = 0.0  # aug_scale: random zoom in by up to this fraction
    noise: float = 0.0  # aug_noise: Gaussian noise, standard deviation as a fraction of 255
    hsv: tuple[float, float, float] | None = None  # aug_hsv_h/s/v: std of random HSV shifts
    normalization: Normalization | None = None  # per-channel (x/255 - mean) / std
    network_channels: int | None = None  # a pretrained network's input, where it differs
    network_size: tuple[int, int] | None = None

    def __post_init__(self):
        self._mean = mean_tensor(self.mean_mode, self.mean)
        self.transform = InputTransform(
            self._mean,
            self.crop_size,
            self.normalization,
            self.network_channels,
            self.network_size,
        )

    def __call__(
        self, batch: torch.Tensor, train: bool = False, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if not train:
            return self.transform.to(batch.device)(batch)
        x = batch.float()
        if self.hsv and x.shape[1] == 3:
            x = jitter_hsv(x, self.hsv, generator)  # on the stored colours, before the mean
        if self._mean is not None:
            x = x - self._mean.to(x.device)
        if self.crop_size:
            x = self._random_crop(x, generator)
        transform = self.transform.to(x.device)
        return transform.scale(transform.adapt(self._augment(x, generator)))

    def _augment(self, x: torch.Tensor, generator) -> torch.Tensor:
        if self.flip != "none":
            x = self._flip(x, generator)
        if self.quad_rotation != "none":
            x = self._quarter_turns(x, generator)
        if self.rotation or self.scale:
            x = self._rotate_and_zoom(x, generator)
        if self.noise:
            x = x + torch.randn(x.shape, generator=generator).to(x.device) * (self.noise * 255.0)
        return x

    def _quarter_turns(self, x: torch.Tensor, generator) -> torch.Tensor:
        turns = {"rot90": (0, 1), "rot180": (0, 2), "rotall": (0, 1, 2, 3)}[self.quad_rotation]
        if x.shape[-1] != x.shape[-2]:
            turns = tuple(t for t in turns if t % 2 == 0)  # a quarter turn would change the size
        chosen = torch.tensor(turns)[torch.randint(len(turns), (x.shape[0],), generator=generator)]
        out = x.clone()
        for turn in set(chosen.tolist()) - {0}:
            picked = (chosen == turn).to(x.device)
            out[picked] = torch.rot90(x[picked], turn, dims=(-2, -1))
        return out

    def _rotate_and_zoom(self, x: torch.Tensor, generator) -> torch.Tensor:
        """One random rotation and zoom per image, as a single affine resampling."""
        n = x.shape[0]
        angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(self.rotation)
        zoom = 1 - torch.rand(n, generator=generator) * self.scale  # < 1: see a smaller area
        cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
        grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
        return F.grid_sample(
            x, grid, mode="bilinear", padding_mode="reflection", align_corners=False
        )

    def _random_crop(self, x: torch.Tensor, generator) -> torch.Tensor:
        """One random window per batch: keeps the step cheap and still varies."""
        height, width = x.shape[-2:]
        size = self.crop_size
        top = int(torch.randint(0, height - size + 1, (1,), generator=generator))
        left = int(torch.randint(0, width - size + 1, (1,), generator=generator))
        return x[..., top : top + size, left : left + size]

    def _flip(self, x: torch.Tensor, generator) -> torch.Tensor:
        for axis, kind in ((-1, "lr"), (-2, "ud")):
            if kind in self.flip:
                chosen = torch.rand(x.shape[0], generator=generator) < 0.5
                x = torch.where(chosen[:, None, None, None].to(x.device), x.flip(axis), x)
        return x

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        if self.network_size:
            return self.network_size
        return (self.crop_size, self.crop_size) if self.crop_size else (height, width)


def rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W, RGB in [0, 1] -> HSV in [0, 1]."""
    r, g, b = rgb.unbind(1)
    high, low = rgb.amax(1), rgb.amin(1)
    delta = high - low
    safe = delta.clamp(min=1e-8)
    rc, gc, bc = (high - r) / safe, (high - g) / safe, (high - b) / safe
    hue = torch.where(high == r, bc - gc, torch.where(high == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = torch.where(delta > 0, (hue / 6.0) % 1.0, torch.zeros_like(hue))
    saturation = torch.where(high > 0, delta / high.clamp(min=1e-8), torch.zeros_like(high))
    return torch.stack([hue, saturation, high], 1)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W, HSV in [0, 1] -> RGB in [0, 1]."""
    hue, saturation, value = hsv.unbind(1)
    sector = torch.floor(hue * 6.0)
    f = hue * 6.0 - sector
    sector = sector.long().remainder(6).unsqueeze(1)
    p = value * (1 - saturation)
    q = value * (1 - saturation * f)
    t = value * (1 - saturation * (1 - f))
    r = torch.stack([value, q, p, p, t, value], 1).gather(1, sector)
    g = torch.stack([t, value, value, q, p, p], 1).gather(1, sector)
    b = torch.stack([p, p, t, value, value, q], 1).gather(1, sector)
    return torch.cat([r, g, b], 1)


def jitter_hsv(x: torch.Tensor, std: tuple[float, float, float], generator) -> torch.Tensor:
    """Shift each image's hue (wrapping), saturation and value by a random normal amount."""
    shifts = torch.randn(x.shape[0], 3, 1, 1, generator=generator) * torch.tensor(std).view(
        1, 3, 1, 1
    )
    hsv = rgb_to_hsv(x / 255.0) + shifts.to(x.device)
    hue = hsv[:, :1].remainder(1.0)
    rest = hsv[:, 1:].clamp(0.0, 1.0)
    return hsv_to_rgb(torch.cat([hue, rest], 1)) * 255.0
