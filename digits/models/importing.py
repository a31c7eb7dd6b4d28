"""Importing a model: an archive as our Download writes it, or DIGITS 6's separate files.

The web stages the upload under the jobs folder and asks a worker of queue `infer`
(`IMPORT_REQUEST`). The worker unpacks an archive (within the archive limits), reads what the
files declare (labels, image size and type, resize mode, mean, normalization), has a child
process with the network checks' limits build the network and load the weights strictly (the
network code is the user's), and writes the model into the staged folder's `imported/`:
`network.py`, `labels.txt`, `info.json` (how pixels become the input, as `ModelInfo`),
`mean.npy`, and the weights as a snapshot. The web makes the model job from that folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from digits.datasets import images
from digits.datasets.unpacking import ArchiveLimits, UnsafeArchive, extract_archive
from digits.forms import FormErrors, add_error, choice_field, int_field, text_field
from digits.jobs.page_requests import RequestContext, RequestFailed
from digits.models.fields import MEAN_MODES
from digits.models.layout import (
    IMPORTED_FOLDER,
    IMPORTED_INFO,
    IMPORTED_MEAN,
    IMPORTED_NETWORK,
    snapshot_name,
)
from digits.models.options import parse_normalization

IMPORT_REQUEST = "import_model"
STAGED_PREFIX = ".upload-"  # what digits.webapp.uploads names its staging folders
ARCHIVE = "archive"  # the staged archive's name, in the staging folder
# Separate files as the staging folder holds them (DIGITS 6's field names).
WEIGHTS_FILE, NETWORK_FILE, LABELS_FILE, MEAN_FILE = (
    "weights_file",
    "model_def_file",
    "labels_file",
    "mean_file",
)
WEIGHT_NAMES = ("weights.safetensors", "model.safetensors", "weights.pt", "weights.pth")
# The import form's `image_type` (DIGITS' 3 and 1 too): the channels it means, and its choices.
CHANNELS_OF_IMAGE_TYPE = {"color": 3, "3": 3, "grayscale": 1, "1": 1}
IMAGE_TYPE_CHOICES = {"color": "Colour (3 channels)", "grayscale": "Grayscale (1 channel)"}


def import_model(ctx: RequestContext) -> dict[str, Any]:
    """The request handler: {"staged": the staging folder's name, "fields": the form}."""
    staged = _staged_folder(ctx)
    fields = ctx.payload.get("fields", {})
    if (staged / ARCHIVE).exists():
        files = _unpacked(staged, ArchiveLimits.from_settings(ctx.settings))
        try:
            declared = json.loads(_read_text(files["info"], "info.json"))
        except ValueError as exc:
            raise RequestFailed(f"info.json is not JSON: {exc}") from None
        info = _info_from_archive(declared, files, fields)
    else:
        safetensors = staged / f"{WEIGHTS_FILE}.safetensors"
        files = {
            "weights": safetensors if safetensors.exists() else staged / WEIGHTS_FILE,
            "network": staged / NETWORK_FILE,
            "labels": staged / LABELS_FILE,
            "mean": staged / MEAN_FILE if (staged / MEAN_FILE).exists() else None,
        }
        info = _info_from_form(files, fields)
    source = _read_text(files["network"], "the network definition")
    mean = _mean(files.get("mean"), info) if info["mean_mode"] != "none" else None
    _check_network(ctx, source, files["weights"], info)
    _write(staged / IMPORTED_FOLDER, source, info, mean, files["weights"])
    return {"info": info}


def _staged_folder(ctx: RequestContext) -> Path:
    name = str(ctx.payload.get("staged", ""))
    folder = ctx.settings.jobs_dir / name
    if not name.startswith(STAGED_PREFIX) or "/" in name or not folder.is_dir():
        raise RequestFailed("the upload is gone: send it again")
    return folder


def _unpacked(staged: Path, limits: ArchiveLimits) -> dict[str, Path | None]:
    """The archive's model files (at its top, or in its one top folder)."""
    target = staged / "unpacked"
    try:
        extract_archive(staged / ARCHIVE, target, limits)
    except UnsafeArchive as exc:
        raise RequestFailed(str(exc)) from None
    entries = [p for p in target.iterdir() if not p.name.startswith(".")]
    root = entries[0] if len(entries) == 1 and entries[0].is_dir() else target
    weights = next((root / n for n in WEIGHT_NAMES if (root / n).is_file()), None)
    files = {
        "weights": weights,
        "network": root / "network.py",
        "labels": root / "labels.txt",
        "info": root / "info.json",
        "mean": root / "mean.npy" if (root / "mean.npy").is_file() else None,
    }
    missing = [
        name for key, name in _NAMES.items() if files[key] is None or not files[key].is_file()
    ]
    if missing:
        raise RequestFailed(
            f"the archive has no {', '.join(missing)}: import an archive as Download makes "
            "it (weights, network.py, labels.txt, info.json)"
        )
    return files


_NAMES = {
    "weights": "weights",
    "network": "network.py",
    "labels": "labels.txt",
    "info": "info.json",
}


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise RequestFailed(f"{what} cannot be read as text: {exc}") from None


def _labels(path: Path) -> list[str]:
    labels = [line.strip() for line in _read_text(path, "the labels").splitlines()]
    labels = [label for label in labels if label]
    if not labels:
        raise RequestFailed("the labels file names no class (one a line)")
    return labels


def _info_from_archive(declared: Any, files: dict, fields: dict) -> dict[str, Any]:
    """info.json as Download writes it (the form's normalization, if given, wins)."""
    if not isinstance(declared, dict):
        raise RequestFailed("info.json does not hold an object")
    form = {
        "image_type": str(declared.get("channels", "")),
        "width": declared.get("width"),
        "height": declared.get("height"),
        "resize_mode": declared.get("resize_mode", images.DEFAULT_RESIZE_MODE),
        "crop_size": declared.get("crop_size") or "",
        "use_mean": declared.get("mean_mode", "none") if files.get("mean") else "none",
        "normalize_mean": _joined(declared.get("normalize_mean")),
        "normalize_std": _joined(declared.get("normalize_std")),
    } | {k: v for k, v in fields.items() if k.startswith("normalize_") and v}
    info = _checked(form, _labels(files["labels"]))
    info["epoch"] = float(declared.get("epoch") or 0)
    info["network"] = str(declared.get("network", "imported"))
    # A model fine-tuned from another network may read its images adapted (see InputTransform).
    info["network_channels"] = _whole(declared.get("network_channels"))
    size = declared.get("network_size")
    valid = isinstance(size, list) and len(size) == 2 and all(_whole(v) for v in size)
    info["network_size"] = [int(v) for v in size] if valid else None
    return info


def _whole(value) -> int | None:
    """A positive whole number from JSON, or None."""
    return value if isinstance(value, int) and 0 < value <= 4096 else None


def _joined(values) -> str:
    return ",".join(str(v) for v in values) if isinstance(values, list) else ""


def _info_from_form(files: dict, fields: dict) -> dict[str, Any]:
    """DIGITS 6's separate files and fields (`image_type`, `resize_mode`, `width`, `height`)."""
    for key, field in (("weights", WEIGHTS_FILE), ("network", NETWORK_FILE)):
        if not files[key].is_file():
            raise RequestFailed(f"{field} is missing")
    if not files["labels"].is_file():
        raise RequestFailed(f"{LABELS_FILE} is missing: a class name a line")
    form = dict(fields) | {"use_mean": "image" if files["mean"] else "none"}
    info = _checked(form, _labels(files["labels"]))
    return info | {"epoch": 0.0, "network": "imported"}


def _checked(form: dict, labels: list[str]) -> dict[str, Any]:
    """What the fields declare, as ModelInfo's keys; a RequestFailed naming what is wrong."""
    errors: dict[str, list[str]] = {}
    image_type = text_field(form, "image_type", "color").lower()
    if image_type not in CHANNELS_OF_IMAGE_TYPE:
        add_error(errors, "image_type", "color or grayscale (DIGITS' 3 or 1)")
    channels = CHANNELS_OF_IMAGE_TYPE.get(image_type, 3)
    mean, std = parse_normalization(form, errors, channels)
    info = {
        "labels": labels,
        "channels": channels,
        "width": int_field(form, "width", None, errors, 1, 4096),
        "height": int_field(form, "height", None, errors, 1, 4096),
        "resize_mode": choice_field(
            form, "resize_mode", images.RESIZE_MODES, images.DEFAULT_RESIZE_MODE, errors
        ),
        "crop_size": int_field(form, "crop_size", 0, errors, 0, 4096) or None,
        "mean_mode": choice_field(form, "use_mean", MEAN_MODES, "none", errors),
        "normalize_mean": list(mean) if mean else None,
        "normalize_std": list(std) if std else None,
    }
    if errors:
        raise RequestFailed(str(FormErrors(errors)))
    return info


def _mean(path: Path | None, info: dict) -> np.ndarray | None:
    """The mean image as H x W x C float32 (a .npy, or an image file), or None."""
    if path is None:
        return None
    try:
        mean = np.load(path, allow_pickle=False).astype(np.float32)
    except ValueError:
        try:
            pixels = images.load_image(path.read_bytes(), info["channels"])
        except images.BadImage as exc:
            raise RequestFailed(f"{MEAN_FILE}: a .npy array or an image: {exc}") from None
        mean = np.asarray(pixels, dtype=np.float32)
    if mean.ndim == 2:
        mean = mean[:, :, None]
    expected = (info["height"], info["width"], info["channels"])
    if mean.shape != expected:
        raise RequestFailed(f"the mean is {mean.shape} (H x W x C), not the images' {expected}")
    return mean


def network_input(info: dict) -> tuple[int, int, int]:
    """(channels, height, width) an imported network takes (as ModelInfo.network_input)."""
    crop = info.get("crop_size")
    stored = (crop, crop) if crop else (info["height"], info["width"])
    height, width = info.get("network_size") or stored
    return info.get("network_channels") or info["channels"], height, width


def _check_network(ctx: RequestContext, source: str, weights: Path, info: dict) -> None:
    """Build the network and load the weights strictly, in a child with the checks' limits."""
    from digits.models.network_check import run_limited

    channels, height, width = network_input(info)
    request = {
        "method": "custom",
        "custom_network": source,
        "num_classes": len(info["labels"]),
        "channels": channels,
        "height": height,
        "width": width,
        "summary": False,
        "weights_file": str(weights),
    }
    answer = run_limited(request, ctx.settings)
    if "error" in answer:
        where = f" (network.py line {answer['line']})" if answer.get("line") else ""
        raise RequestFailed(answer["error"] + where)


def _write(folder: Path, source: str, info: dict, mean: np.ndarray | None, weights: Path) -> None:
    import torch  # here, on the worker: the web server imports this module's names

    from digits.models.weights import load_weights

    folder.mkdir()
    (folder / IMPORTED_NETWORK).write_text(source)
    (folder / "labels.txt").write_text("".join(label + "\n" for label in info["labels"]))
    if mean is not None:
        np.save(folder / IMPORTED_MEAN, mean)
    (folder / IMPORTED_INFO).write_text(json.dumps(info, indent=2) + "\n")
    snapshot = {
        "format": 1,
        "epoch": info["epoch"],
        "model": load_weights(weights),
        "parameters": {},
        "labels": info["labels"],
    }
    torch.save(snapshot, folder / snapshot_name(info["epoch"]))
    shutil.rmtree(folder.parent / "unpacked", ignore_errors=True)
