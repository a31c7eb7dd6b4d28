"""Where a dataset job keeps its files, inside its job folder, and what its info.json says."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LABELS = "labels.txt"
INFO = "info.json"
MEAN_NPY = "mean.npy"
MEAN_PNG = "mean.png"
LISTS = "lists"  # the text-file method's lists, copied in at submission
UPLOAD_ARCHIVE = "upload/archive"  # an uploaded archive of class folders
UPLOAD_IMAGES = "upload/images"  # ...and what it unpacked to
CSV_LISTS = {"train": "lists/train.csv", "val": "lists/val.csv"}  # a generic dataset's targets


def database(split: str) -> str:
    return f"{split}_db"


def image_list(split: str) -> str:
    """DIGITS' list of a database's images, `path label` a line: train.txt, val.txt, test.txt."""
    return f"{split}.txt"


def append_folder(number: int) -> str:
    """Files of the number-th "Add images" request (an uploaded archive and its images)."""
    return f"appends/{number}"


@dataclass(frozen=True)
class ImageFormat:
    """How the dataset's images are stored: every record has this size and encoding."""

    width: int
    height: int
    channels: int
    resize_mode: str
    encoding: str


@dataclass
class SplitFigures:
    """One database (train, val, test): its records, per class, the images skipped, its size."""

    entries: int
    per_class: list[int]
    skipped: int
    db_size: int


@dataclass
class DatasetInfo:
    """info.json: what a finished dataset job built. The one way it is read and written."""

    labels: list[str]
    image: ImageFormat
    splits: dict[str, SplitFigures] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(
        default_factory=list
    )  # the first ones: split, path, reason
    messages: list[str] = field(default_factory=list)
    appends_applied: int = 0  # "Add images" requests built in so far
    # A generic ("Other") dataset's outputs: each image has a vector of these values (see
    # digits.datasets.targets); None for classification.
    outputs: list[str] | None = None
    # The kind of problem its records are for (a name in digits.tasks): what a record holds
    # beyond its image and how models of it learn. Written by the dataset job; info.json files
    # from before it was written are classification or, with outputs, regression.
    task: str = ""

    def __post_init__(self):
        if not self.task:
            self.task = "regression" if self.outputs is not None else "classification"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetInfo:
        return cls(
            labels=list(data["labels"]),
            image=ImageFormat(**data["image"]),
            splits={name: SplitFigures(**figures) for name, figures in data["splits"].items()},
            skipped=list(data.get("skipped", [])),
            messages=list(data.get("messages", [])),
            appends_applied=data.get("appends_applied", 0),
            outputs=data.get("outputs"),
            task=data.get("task", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def entries(self, split: str) -> int:
        figures = self.splits.get(split)
        return figures.entries if figures else 0


def read_info(folder: Path) -> DatasetInfo | None:
    """The summary a finished dataset job wrote, or None before it finishes."""
    try:
        return DatasetInfo.from_dict(json.loads((folder / INFO).read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_info(folder: Path, info: DatasetInfo) -> None:
    (folder / INFO).write_text(json.dumps(info.to_dict(), indent=2))
