"""Where a dataset job keeps its files, inside its job folder."""

import json
from pathlib import Path
from typing import Any

LABELS = "labels.txt"
INFO = "info.json"
MEAN_NPY = "mean.npy"
MEAN_PNG = "mean.png"
LISTS = "lists"  # the text-file method's lists, copied in at submission
UPLOAD_ARCHIVE = "upload/archive"  # an uploaded archive of class folders
UPLOAD_IMAGES = "upload/images"  # ...and what it unpacked to


def database(split: str) -> str:
    return f"{split}_db"


def append_folder(number: int) -> str:
    """Files of the number-th "Add images" request (an uploaded archive and its images)."""
    return f"appends/{number}"


def read_info(folder: Path) -> dict[str, Any] | None:
    """The summary a finished dataset job wrote, or None before it finishes."""
    try:
        return json.loads((folder / INFO).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
