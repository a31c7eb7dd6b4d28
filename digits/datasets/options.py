"""The dataset form's fields, checked: DIGITS' names in, typed options or per-field errors out.

The same checks run when the form is submitted (a 400 naming each field) and when the job
starts (from the parameters stored as submitted), so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from digits.datasets.images import RESIZE_MODES

METHODS = ("folder", "textfile", "upload")
ENCODING_CHOICES = ("png", "jpg", "none")
MAX_SIDE = 4096


class OptionErrors(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class DatasetOptions:
    name: str
    method: str
    channels: int
    width: int
    height: int
    resize_mode: str
    encoding: str
    # folder method
    folder_train: str = ""
    pct_val: float = 25.0
    pct_test: float = 0.0
    min_per_class: int = 2
    max_per_class: int | None = None
    folder_val: str | None = None
    folder_test: str | None = None
    # text-file method
    textfile_prefix: dict[str, str] = field(default_factory=dict)
    textfile_shuffle: bool = True
    seed: int = 0


def _checked(errors: dict, name: str, message: str) -> None:
    errors.setdefault(name, []).append(message)


def _int(form: dict, name: str, default: int | None, errors: dict, low: int, high: int):
    text = str(form.get(name, "") or "").strip()
    if text == "":
        if default is None:
            _checked(errors, name, "required")
        return default
    try:
        value = int(float(text)) if float(text).is_integer() else None
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        _checked(errors, name, f"a whole number from {low} to {high}")
        return default
    return value


def _pct(form: dict, name: str, default: float, errors: dict) -> float:
    text = str(form.get(name, "") or "").strip()
    if text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 100:
        _checked(errors, name, "a percentage from 0 to 100")
        return default
    return value


def _choice(form: dict, name: str, choices: tuple, default: str, errors: dict) -> str:
    value = str(form.get(name, "") or default).strip()
    if value not in choices:
        _checked(errors, name, f"one of {', '.join(choices)}")
        return default
    return value


def _flag(form: dict, name: str, default: bool = False) -> bool:
    value = form.get(name)
    if value is None:
        return default
    return str(value).strip().lower() in ("1", "true", "on", "yes", "y")


@dataclass
class ImageSettings:
    channels: int
    width: int
    height: int


def parse_image_settings(form: dict[str, Any]) -> ImageSettings:
    """Just the image type and size (for the resize examples)."""
    errors: dict[str, list[str]] = {}
    settings = _image_settings(form, errors)
    if errors:
        raise OptionErrors(errors)
    return settings


def _image_settings(form: dict[str, Any], errors: dict) -> ImageSettings:
    channels = _int(form, "resize_channels", 3, errors, 1, 3)
    if channels not in (1, 3):
        _checked(errors, "resize_channels", "1 (grayscale) or 3 (color)")
    return ImageSettings(
        channels=channels,
        width=_int(form, "resize_width", 256, errors, 1, MAX_SIDE),
        height=_int(form, "resize_height", 256, errors, 1, MAX_SIDE),
    )


def parse_options(form: dict[str, Any]) -> DatasetOptions:
    """Check every field; raise OptionErrors with all the problems at once."""
    errors: dict[str, list[str]] = {}
    name = str(form.get("dataset_name", "") or "").strip()
    if not name:
        _checked(errors, "dataset_name", "a dataset needs a name")
    if str(form.get("backend", "lmdb") or "lmdb") != "lmdb":
        _checked(errors, "backend", "only lmdb is supported")
    image = _image_settings(form, errors)
    options = DatasetOptions(
        name=name,
        method=_choice(form, "method", METHODS, "folder", errors),
        channels=image.channels,
        width=image.width,
        height=image.height,
        resize_mode=_choice(form, "resize_mode", RESIZE_MODES, "squash", errors),
        encoding=_choice(form, "encoding", ENCODING_CHOICES, "png", errors),
        seed=_int(form, "random_seed", 0, errors, 0, 2**31 - 1),
    )
    if options.method in ("folder", "upload"):
        options.pct_val = _pct(form, "folder_pct_val", 25.0, errors)
        options.pct_test = _pct(form, "folder_pct_test", 0.0, errors)
        if options.pct_val + options.pct_test > 100:
            _checked(
                errors, "folder_pct_val", "% for validation and % for testing add up to over 100"
            )
        options.min_per_class = _int(form, "folder_train_min_per_class", 2, errors, 1, 10**9)
        options.max_per_class = _int(form, "folder_train_max_per_class", -1, errors, 1, 10**9)
        if options.max_per_class == -1:
            options.max_per_class = None
        elif options.max_per_class is not None and options.max_per_class < options.min_per_class:
            _checked(
                errors, "folder_train_max_per_class", "must not be below the minimum per class"
            )
    if options.method == "folder":
        options.folder_train = str(form.get("folder_train", "") or "").strip()
        if not options.folder_train:
            _checked(errors, "folder_train", "the folder of class sub-folders is required")
        if _flag(form, "has_val_folder"):
            options.folder_val = str(form.get("folder_val", "") or "").strip()
            if not options.folder_val:
                _checked(errors, "folder_val", "required when using a separate validation folder")
        if _flag(form, "has_test_folder"):
            options.folder_test = str(form.get("folder_test", "") or "").strip()
            if not options.folder_test:
                _checked(errors, "folder_test", "required when using a separate test folder")
    if options.method == "textfile":
        options.textfile_shuffle = _flag(form, "textfile_shuffle", True)
        options.textfile_prefix = {
            split: str(form.get(f"textfile_{split}_folder", "") or "").strip()
            for split in ("train", "val", "test")
        }
    if errors:
        raise OptionErrors(errors)
    return options
