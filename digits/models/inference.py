"""A trained model at work: a snapshot as a classifier of image files.

Used by the workers' Classify One and Classify Many, and by the download (which exports the same
`Classifier`). An image goes through the dataset's own loading and resizing
(`digits.datasets.images`), then the model's `InputTransform`, exactly as validation saw images.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from digits import tasks
from digits.datasets import images, layout
from digits.models import snapshots
from digits.models.factory import architecture, custom_factory, imported_source
from digits.models.layout import (
    IMPORTED_FOLDER,
    IMPORTED_MEAN,
    NoSuchSnapshot,
    imported_info,
    resolve_epoch,
    snapshot_name,
)
from digits.models.options import parse_training_options
from digits.models.preprocessing import InputTransform, mean_tensor, normalization_of
from digits.models.weights import load_into

TOP_K = 5
NOISE_SEED = 0  # the seed of the noise that "fill" and "half_crop" pad with, when classifying
CACHED_MODELS = 4  # snapshots kept loaded per worker process


class ModelNotUsable(ValueError):
    """A model that cannot classify (no snapshot, unknown epoch, its dataset gone): say why."""


@dataclass(frozen=True)
class ModelInfo:
    """Everything needed to turn an image file into this model's input: info.json's content."""

    labels: list[str]
    channels: int
    height: int  # the dataset's stored size, before any crop
    width: int
    resize_mode: str
    crop_size: int | None
    mean_mode: str
    network: str
    epoch: float
    noise_seed: int = NOISE_SEED
    # Per-channel (x/255 - mean) / std after the mean image (pretrained networks' own).
    normalize_mean: list[float] | None = None
    normalize_std: list[float] | None = None
    # A pretrained network's own input, where the stored images differ (see InputTransform).
    network_channels: int | None = None
    network_size: list[int] | None = None  # [height, width]
    # The kind of problem (digits.tasks): what the labels name and what the answers are.
    task: str = "classification"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the stored image the network sees (after the crop)."""
        crop = self.crop_size
        return (crop, crop) if crop else (self.height, self.width)

    @property
    def network_input(self) -> tuple[int, int, int]:
        """(channels, height, width) the network itself takes."""
        height, width = self.network_size or self.input_size
        return self.network_channels or self.channels, height, width


class Classifier(nn.Module):
    """Stored-format images (uint8, N x C x H x W) in, class probabilities out (a generic
    model's: its output values, as they are)."""

    def __init__(self, transform: InputTransform, network: nn.Module, probabilities: bool = True):
        super().__init__()
        self.transform = transform
        self.network = network
        self.probabilities = probabilities

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        outputs = self.network(self.transform(images)).float()
        return torch.softmax(outputs, dim=1) if self.probabilities else outputs


@dataclass
class LoadedModel:
    info: ModelInfo
    classifier: Classifier
    mean: np.ndarray | None  # H x W x C float32, the dataset's mean image
    device: torch.device = torch.device("cpu")

    def classify(self, pixels: list[np.ndarray]) -> np.ndarray:
        """Probabilities (N x classes) for images as `prepare` gives them."""
        batch = self.batch(pixels)
        with torch.inference_mode():
            return self.classifier(batch).cpu().numpy()

    def batch(self, pixels: list[np.ndarray]) -> torch.Tensor:
        """Images as `prepare` gives them, as the network's uint8 input on its device."""
        batch = torch.from_numpy(np.stack([to_chw(p) for p in pixels]))
        return batch.to(self.device, non_blocking=True)

    def prepare(
        self, source: str | Path | bytes, max_pixels: int = images.DEFAULT_MAX_PIXELS
    ) -> np.ndarray:
        return prepare_image(source, self.info, max_pixels)


def to_chw(pixels: np.ndarray) -> np.ndarray:
    """H x W (gray) or H x W x C uint8 -> C x H x W."""
    return np.ascontiguousarray(pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1))


def prepare_image(
    source: str | Path | bytes, info: ModelInfo, max_pixels: int = images.DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """An image file as the dataset would have stored it (raises images.BadImage)."""
    at_least = max(info.width, info.height)
    image = images.load_image(source, info.channels, at_least=at_least, max_pixels=max_pixels)
    rng = np.random.default_rng(info.noise_seed)
    return images.resize_image(image, info.width, info.height, info.resize_mode, rng)


def top_scores(probabilities: np.ndarray, labels: list[str], k: int = TOP_K) -> list:
    """[[label, probability], ...], best first (ties in label order), full precision."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [[labels[i], float(probabilities[i])] for i in order]


def as_percentages(scores: list) -> list:
    """DIGITS' [[label, percent], ...], percent with 2 decimals."""
    return [[label, round(probability * 100, 2)] for label, probability in scores]


def top_predictions(probabilities: np.ndarray, labels: list[str], k: int = TOP_K) -> list:
    """DIGITS' [[label, percent], ...], best first."""
    return as_percentages(top_scores(probabilities, labels, k))


_cache: OrderedDict[tuple, LoadedModel] = OrderedDict()
_cache_lock = threading.Lock()


def load_model(
    store, model_id: str, epoch: float | None = None, device: str = "cpu"
) -> LoadedModel:
    """A model's snapshot (the latest by default), ready to classify on `device` (see
    digits.models.devices); kept warm per process and device."""
    folder = store.folder(model_id)
    try:
        epoch = resolve_epoch(folder, epoch)
    except NoSuchSnapshot as exc:
        raise ModelNotUsable(str(exc)) from exc
    path = folder / snapshot_name(epoch)
    key = (str(path), path.stat().st_mtime_ns, device)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    loaded = _load(store, folder, epoch)
    if device != "cpu":
        loaded.device = torch.device(device)
        loaded.classifier.to(loaded.device)
    with _cache_lock:
        _cache[key] = loaded
        while len(_cache) > CACHED_MODELS:
            _cache.popitem(last=False)
    return loaded


def _load(store, folder: Path, epoch: float) -> LoadedModel:
    snapshot = snapshots.load(folder, epoch)
    declared = imported_info(folder)
    if declared is not None:
        return _load_imported(folder, snapshot, declared, epoch)
    options = parse_training_options(snapshot["parameters"])
    dataset_folder = store.folder(options.dataset)
    dataset = layout.read_info(dataset_folder)
    if dataset is None:
        raise ModelNotUsable(f"the model's dataset {options.dataset} is gone or unfinished")
    image = dataset.image
    mean = np.load(dataset_folder / layout.MEAN_NPY) if options.mean_mode != "none" else None
    info = ModelInfo(
        labels=list(snapshot["labels"]),
        channels=image.channels,
        height=image.height,
        width=image.width,
        resize_mode=image.resize_mode,
        crop_size=options.crop_size,
        mean_mode=options.mean_mode,
        network=options.network if options.method == "standard" else options.method,
        epoch=epoch,
        normalize_mean=list(options.normalize_mean) if options.normalize_mean else None,
        normalize_std=list(options.normalize_std) if options.normalize_std else None,
        network_channels=options.network_channels,
        network_size=list(options.network_size) if options.network_size else None,
        task=dataset.task,
    )
    network = architecture(options, store, len(info.labels), *info.network_input)
    return _loaded(info, network, snapshot, mean)


def _load_imported(folder: Path, snapshot: dict, declared: dict, epoch: float) -> LoadedModel:
    """An imported model: its network code and preprocessing are its own files."""
    known = {key: declared[key] for key in ModelInfo.__dataclass_fields__ if key in declared}
    info = ModelInfo(**(known | {"epoch": epoch}))
    mean_path = folder / IMPORTED_FOLDER / IMPORTED_MEAN
    mean = np.load(mean_path) if info.mean_mode != "none" and mean_path.exists() else None
    source = imported_source(folder)
    network = custom_factory(source)(len(info.labels), *info.network_input)
    return _loaded(info, network, snapshot, mean)


def _loaded(info: ModelInfo, network: nn.Module, snapshot: dict, mean) -> LoadedModel:
    load_into(network, snapshot["model"])
    for module in network.modules():  # each layer's own output stays visible to its hooks
        if getattr(module, "inplace", False):
            module.inplace = False
    mean_mode = info.mean_mode if mean is not None else "none"
    transform = InputTransform(
        mean_tensor(mean_mode, mean),
        info.crop_size,
        normalization_of(info),
        info.network_channels,
        tuple(info.network_size) if info.network_size else None,
    )
    probabilities = tasks.get(info.task).final_activation == "softmax"
    classifier = Classifier(transform, network, probabilities=probabilities)
    return LoadedModel(info, classifier.eval(), mean)
