"""Which images go in which split with which label: DIGITS' folder and text-file methods."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digits.data_roots import PathNotAllowed, resolve_in_roots
from digits.datasets.images import IMAGE_EXTENSIONS
from digits.forms import is_whole_number

SPLITS = ("train", "val", "test")


class ParseError(ValueError):
    """Input that cannot make a dataset; `field` names the form field to blame."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@dataclass
class Entry:
    path: str
    label: int


@dataclass
class Parsed:
    labels: list[str]
    splits: dict[str, list[Entry]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)  # classes dropped and why
    # A generic dataset's outputs, and each split's target table (an entry's label is its row).
    outputs: list[str] | None = None
    targets: dict[str, Any] = field(default_factory=dict)


def label_for_folder(name: str) -> str:
    return name.replace("_", " ")


def folder_in_roots(text: str, roots: tuple[Path, ...], field: str) -> Path:
    """A folder the user named, under the data roots (ParseError on `field` otherwise): checked
    when the dataset is submitted, and again when its job reads it."""
    try:
        path = resolve_in_roots(text, roots)
    except PathNotAllowed as exc:
        raise ParseError(field, str(exc)) from exc
    if not path.is_dir():
        raise ParseError(field, f"{text} is not an existing folder")
    return path


def list_images(folder: Path) -> list[str]:
    """Every image file under `folder`, recursively, in a stable order."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        found.extend(
            os.path.join(root, f) for f in sorted(files) if f.lower().endswith(IMAGE_EXTENSIONS)
        )
    return found


def class_folders(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )


def parse_folder(
    train_folder: Path,
    pct_val: float,
    pct_test: float,
    min_per_class: int,
    max_per_class: int | None,
    val_folder: Path | None = None,
    test_folder: Path | None = None,
    seed: int = 0,
    min_classes: int = 2,
) -> Parsed:
    """Each sub-folder of `train_folder` is a class; split its images by the percentages.

    With max_per_class, a random choice of that many images (not the first N: DIGITS #1970).
    A class with fewer than min_per_class images is dropped, with a message.
    """
    rng = random.Random(seed)
    per_class = {label_for_folder(p.name): list_images(p) for p in class_folders(train_folder)}
    parsed = Parsed(labels=[])
    kept: dict[str, list[str]] = {}
    for label, paths in per_class.items():
        if len(paths) < min_per_class:
            parsed.messages.append(
                f"class {label!r} dropped: {len(paths)} images, fewer than the minimum of "
                f"{min_per_class}"
            )
            continue
        if max_per_class is not None and len(paths) > max_per_class:
            paths = sorted(rng.sample(paths, max_per_class))
        kept[label] = paths
    if len(kept) < min_classes:
        raise ParseError(
            "folder_train",
            f"{train_folder} has {len(kept)} usable class folder(s); "
            + ("a classifier needs at least 2 " if min_classes == 2 else "at least 1 is needed ")
            + "(one sub-folder of images per class)",
        )
    parsed.labels = list(kept)
    parsed.splits = {name: [] for name in SPLITS}
    for index, (_, paths) in enumerate(kept.items()):
        shuffled = paths[:]
        rng.shuffle(shuffled)
        n_val = int(round(len(shuffled) * pct_val / 100.0))
        n_test = int(round(len(shuffled) * pct_test / 100.0))
        parsed.splits["val"] += [Entry(p, index) for p in shuffled[:n_val]]
        parsed.splits["test"] += [Entry(p, index) for p in shuffled[n_val : n_val + n_test]]
        parsed.splits["train"] += [Entry(p, index) for p in shuffled[n_val + n_test :]]
    for split, folder in (("val", val_folder), ("test", test_folder)):
        if folder is not None:
            parsed.splits[split] += _entries_from_class_folders(folder, parsed.labels, split)
    for split in SPLITS:
        rng.shuffle(parsed.splits[split])
    return parsed


def _entries_from_class_folders(folder: Path, labels: list[str], split: str) -> list[Entry]:
    entries = []
    for class_folder in class_folders(folder):
        label = label_for_folder(class_folder.name)
        if label not in labels:
            raise ParseError(
                f"folder_{split}",
                f"class folder {class_folder.name!r} in {folder} is no class of the training set",
            )
        entries += [Entry(p, labels.index(label)) for p in list_images(class_folder)]
    return entries


def parse_labels_file(text: str) -> list[str]:
    labels = [line.strip() for line in text.splitlines() if line.strip()]
    if len(labels) < 2:
        raise ParseError("textfile_labels_file", "the labels file must name at least 2 classes")
    return labels


def parse_list_file(text: str, field_name: str, prefix: str, labels: list[str]) -> list[Entry]:
    """Lines of `path label`; the path may hold spaces, the label is the last word, an index."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path, _, label_text = line.rpartition(" ")
        if not path or not is_whole_number(label_text.lstrip("-")):
            # The line itself is not echoed: a server file read this way would leak its lines.
            raise ParseError(
                field_name,
                f"line {number}: expected 'path label' (a path, a space, the class index)",
            )
        label = int(label_text)
        if not 0 <= label < len(labels):
            raise ParseError(
                field_name,
                f"line {number}: label {label} is outside the labels file (0 to {len(labels) - 1})",
            )
        path = path.strip()
        if prefix and not os.path.isabs(path):
            path = os.path.join(prefix, path)
        entries.append(Entry(path, label))
    if not entries:
        raise ParseError(field_name, "the file lists no images")
    return entries
