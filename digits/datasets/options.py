"""The dataset form's fields, checked: DIGITS' names in, typed options or per-field errors out.

The same checks run when the form is submitted (a 400 naming each field) and when the job
starts (from the parameters stored as submitted), so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from digits.datasets.images import DEFAULT_RESIZE_MODE, RESIZE_MODES
from digits.forms import (
    FormErrors,
    add_error,
    choice_field,
    flag_field,
    float_field,
    group_field,
    int_field,
    name_field,
    optional_int_field,
)

# Each choice and its title on the form (the form's lists come from here).
METHODS = {
    "folder": "Folder on the server",
    "upload": "Upload an archive",
    "textfile": "Text files",
    "digits": "A DIGITS dataset folder",
}
# A generic ("Other") dataset's method: a CSV of target values per image (digits.datasets.targets).
GENERIC_METHODS = {"csv": "A CSV of values per image", "prebuilt": "Prebuilt LMDBs (DIGITS, Caffe)"}
# The fields naming what the prebuilt methods read (see digits.datasets.prebuilt).
PREBUILT_FIELDS = {
    "digits": ("digits_folder",),
    "prebuilt": (
        "prebuilt_train_images",
        "prebuilt_train_labels",
        "prebuilt_val_images",
        "prebuilt_val_labels",
        "prebuilt_mean_file",
    ),
}
ENCODING_CHOICES = {
    "png": "PNG (lossless)",
    "jpg": "JPEG (lossy, 90%)",
    "none": "None (raw pixels)",
}
CHANNEL_CHOICES = {"3": "Color", "1": "Grayscale"}
MAX_SIDE = 4096


@dataclass
class DatasetOptions:
    name: str
    method: str
    channels: int
    width: int
    height: int
    resize_mode: str
    encoding: str
    group: str = ""  # the home page files the job under it
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
    # csv method (generic): relative image paths are under this server folder (or, when an
    # archive was uploaded, under its root)
    csv_folder: str = ""
    # prebuilt methods: PREBUILT_FIELDS' values (server paths)
    prebuilt: dict[str, str] = field(default_factory=dict)
    seed: int = 0

    @property
    def generic(self) -> bool:
        return self.method in GENERIC_METHODS


def _pct(form: dict, name: str, default: float, errors: dict) -> float:
    value = float_field(form, name, default, errors, 0, 100)
    return default if value is None else value


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
        raise FormErrors(errors)
    return settings


def _image_settings(form: dict[str, Any], errors: dict) -> ImageSettings:
    channels = int_field(form, "resize_channels", 3, errors, 1, 3)
    if channels not in (1, 3):
        add_error(errors, "resize_channels", "1 (grayscale) or 3 (color)")
    return ImageSettings(
        channels=channels,
        width=int_field(form, "resize_width", 256, errors, 1, MAX_SIDE),
        height=int_field(form, "resize_height", 256, errors, 1, MAX_SIDE),
    )


def parse_options(form: dict[str, Any]) -> DatasetOptions:
    """Check every field; raise FormErrors with all the problems at once."""
    errors: dict[str, list[str]] = {}
    name = name_field(form, "dataset_name", errors, "dataset")
    if str(form.get("backend", "lmdb") or "lmdb") != "lmdb":
        add_error(errors, "backend", "only lmdb is supported")
    image = _image_settings(form, errors)
    options = DatasetOptions(
        name=name,
        group=group_field(form, errors),
        method=choice_field(form, "method", METHODS | GENERIC_METHODS, "folder", errors),
        channels=image.channels,
        width=image.width,
        height=image.height,
        resize_mode=choice_field(form, "resize_mode", RESIZE_MODES, DEFAULT_RESIZE_MODE, errors),
        encoding=choice_field(form, "encoding", ENCODING_CHOICES, "png", errors),
        seed=int_field(form, "random_seed", 0, errors, 0, 2**31 - 1),
    )
    if options.method == "csv":
        options.csv_folder = str(form.get("csv_folder", "") or "").strip()
    for name in PREBUILT_FIELDS.get(options.method, ()):
        options.prebuilt[name] = str(form.get(name, "") or "").strip()
    required = {"digits": "digits_folder", "prebuilt": "prebuilt_train_images"}.get(options.method)
    if required and not options.prebuilt[required]:
        add_error(errors, required, "required: a path on the server")
    if options.method in ("folder", "upload", "csv"):
        options.pct_val = _pct(form, "folder_pct_val", 25.0, errors)
        options.pct_test = _pct(form, "folder_pct_test", 0.0, errors)
        if options.pct_val + options.pct_test > 100:
            add_error(
                errors, "folder_pct_val", "% for validation and % for testing add up to over 100"
            )
        options.min_per_class = int_field(form, "folder_train_min_per_class", 2, errors, 1, 10**9)
        options.max_per_class = optional_int_field(
            form, "folder_train_max_per_class", errors, 1, 10**9
        )
        if options.max_per_class is not None and options.max_per_class < options.min_per_class:
            add_error(
                errors, "folder_train_max_per_class", "must not be below the minimum per class"
            )
    if options.method == "folder":
        options.folder_train = str(form.get("folder_train", "") or "").strip()
        if not options.folder_train:
            add_error(errors, "folder_train", "the folder of class sub-folders is required")
        if flag_field(form, "has_val_folder"):
            options.folder_val = str(form.get("folder_val", "") or "").strip()
            if not options.folder_val:
                add_error(errors, "folder_val", "required when using a separate validation folder")
        if flag_field(form, "has_test_folder"):
            options.folder_test = str(form.get("folder_test", "") or "").strip()
            if not options.folder_test:
                add_error(errors, "folder_test", "required when using a separate test folder")
    if options.method == "textfile":
        options.textfile_shuffle = flag_field(form, "textfile_shuffle", True)
        options.textfile_prefix = {
            split: str(form.get(f"textfile_{split}_folder", "") or "").strip()
            for split in ("train", "val", "test")
        }
    if errors:
        raise FormErrors(errors)
    return options
