"""Classify Many: many images through a model as a background job with a progress bar (DIGITS
ran it inside the request and timed out, #479). With labels: top-1/top-5 accuracy, per-class
accuracy and a confusion matrix; always: each class's most confident images (Top N).

Input, staged in the job's folder by the web layer: `images.txt` (a path a line, optionally
followed by a label: its index among the model's classes or its name; relative paths are under
`image_folder`), or `upload.archive` (an archive of class folders, unpacked here into
`upload/`: a web request never unpacks). Output: `results.json`.
Runs as `python -m digits.models.classify_many <job id>` in a child of the worker.
"""

from __future__ import annotations

import heapq
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digits.data_roots import PathNotAllowed, PathsInRoots
from digits.datasets import images, targets
from digits.datasets.parsing import ParseError, class_folders, label_for_folder, list_images
from digits.datasets.unpacking import ArchiveLimits, UnsafeArchive, extract_archive, images_root
from digits.files import write_json_atomically
from digits.forms import is_whole_number
from digits.jobs.child import child_main
from digits.jobs.context import JobContext, JobError
from digits.jobs.heartbeats import node_of
from digits.models import inference
from digits.models.classify import network_view
from digits.models.devices import inference_device
from digits.models.layer_views import png_data_uri
from digits.models.layout import (
    CLASSIFY_LIST_FILE,
    CLASSIFY_UPLOAD_ARCHIVE,
    CLASSIFY_UPLOAD_FOLDER,
)
from digits.models.options import parse_inference_options

RESULTS_FILE = "results.json"
BATCH = 64


@dataclass
class Item:
    shown: str  # the path as the user gave it
    path: Path
    label: int | None
    target: list[float] | None = None  # a generic model's known values for the image


def read_list(
    ctx: JobContext, labels: list[str], folder_text: str
) -> tuple[list[Item], list[dict]]:
    """The list's images that may be read (relative paths under `folder_text`), and an error
    for each line that cannot."""
    items, errors = [], []
    paths = _paths_in_roots(ctx)
    lines = (ctx.folder / CLASSIFY_LIST_FILE).read_text(errors="replace").splitlines()
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        path_text, label, problem = _split_line(text, labels)
        if problem:
            errors.append({"line": number, "path": path_text, "reason": problem})
            continue
        item = _item(paths, path_text, folder_text, label, number, errors)
        if item:
            items.append(item)
    return items, errors


def _paths_in_roots(ctx: JobContext) -> PathsInRoots:
    """The server's data roots, to check a list's paths against (none: the job cannot run)."""
    try:
        return PathsInRoots(ctx.settings.data_roots)
    except PathNotAllowed as exc:
        raise JobError(str(exc)) from exc


def _item(paths: PathsInRoots, text: str, folder_text: str, label, number: int, errors: list):
    """The listed image, if it may be read; else an error for its line."""
    if folder_text and not text.startswith("/"):
        text = f"{folder_text.rstrip('/')}/{text}"
    try:
        real = paths.resolve(text)
    except PathNotAllowed as exc:
        errors.append({"line": number, "path": text, "reason": str(exc)})
        return None
    if not real.is_file():
        errors.append({"line": number, "path": text, "reason": "no such file"})
        return None
    return Item(text, real, label)


def read_values_list(ctx: JobContext, outputs: list[str], folder_text: str):
    """A generic model's list: a CSV of `path,v1,...` with the known values (as its dataset's,
    header optional), or a path a line; the images that may be read, and the lines' errors."""
    text = (ctx.folder / CLASSIFY_LIST_FILE).read_text(errors="replace")
    try:
        table = targets.parse_csv(text, "image_list")
    except ParseError:
        table = None
    if table is None or table.values.shape[1] != len(outputs):
        return read_list(ctx, [], folder_text)
    paths = _paths_in_roots(ctx)
    items, errors = [], []
    for number, (path, values) in enumerate(zip(table.paths, table.values, strict=True), 1):
        item = _item(paths, path, folder_text, None, number, errors)
        if item:
            item.target = values.tolist()
            items.append(item)
    return items, errors


def _split_line(text: str, labels: list[str]) -> tuple[str, int | None, str | None]:
    """`path`, or `path label` (an index or a class name): (path, label, problem)."""
    path, _, rest = text.rpartition(" ")
    if not path:
        return text, None, None
    rest = rest.strip()
    if is_whole_number(rest):
        index = int(rest)
        if index >= len(labels):
            return path.strip(), None, f"label {index}: the model has {len(labels)} classes"
        return path.strip(), index, None
    if rest in labels:
        return path.strip(), labels.index(rest), None
    return text, None, None  # a path with a space in it, and no label


def read_upload(ctx: JobContext, labels: list[str]) -> list[Item]:
    """An archive's class folders: a folder named like a class labels its images."""
    unpacked = ctx.folder / CLASSIFY_UPLOAD_FOLDER
    if not unpacked.exists():
        ctx.log("unpacking the uploaded archive")
        try:
            extract_archive(
                ctx.folder / CLASSIFY_UPLOAD_ARCHIVE,
                unpacked,
                ArchiveLimits.from_settings(ctx.settings),
            )
        except UnsafeArchive as exc:
            raise JobError(str(exc)) from exc
    root = images_root(unpacked)
    items = []
    for folder in class_folders(root):
        name = label_for_folder(folder.name)
        label = labels.index(name) if name in labels else None
        for path in list_images(folder):
            items.append(Item(str(Path(path).relative_to(root)), Path(path), label))
    return items


class Tally:
    """What the results page shows, gathered batch by batch."""

    def __init__(self, labels: list[str], top_n: int, max_pixels: int):
        self.labels = labels
        self.top_n = top_n
        self.max_pixels = max_pixels
        self.confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
        self.top1 = self.top5 = self.labelled = 0
        self.rows: list[dict[str, Any]] = []
        # Per class, the top_n images most confidently put in it: (probability, order, item).
        self.best: list[list[tuple[float, int, Item]]] = [[] for _ in labels]

    def add(self, item: Item, probabilities: np.ndarray) -> None:
        order = len(self.rows)
        predictions = inference.top_predictions(probabilities, self.labels)
        self.rows.append({"path": item.shown, "label": item.label, "predictions": predictions})
        for index, best in enumerate(self.best):
            entry = (float(probabilities[index]), -order, item)
            if len(best) < self.top_n:
                heapq.heappush(best, entry)
            elif entry[:2] > best[0][:2]:
                heapq.heapreplace(best, entry)
        if item.label is not None:
            ranked = np.argsort(-probabilities, kind="stable")
            self.confusion[item.label, ranked[0]] += 1
            self.top1 += int(ranked[0] == item.label)
            self.top5 += int(item.label in ranked[: inference.TOP_K])
            self.labelled += 1

    def summary(self, model: inference.LoadedModel) -> dict[str, Any]:
        per_class = [
            {
                "label": label,
                "count": int(self.confusion[i].sum()),
                "top1": 100.0 * self.confusion[i, i] / max(1, self.confusion[i].sum()),
            }
            for i, label in enumerate(self.labels)
        ]
        return {
            "labels": self.labels,
            "epoch": model.info.epoch,
            "classified": len(self.rows),
            "rows": self.rows,
            "accuracy": {
                "labelled": self.labelled,
                "top1": 100.0 * self.top1 / self.labelled,
                "top5": 100.0 * self.top5 / self.labelled,
            }
            if self.labelled
            else None,
            "per_class": per_class if self.labelled else None,
            "confusion": self.confusion.tolist() if self.labelled else None,
            "top_n": self._top_n(model),
        }

    def _top_n(self, model: inference.LoadedModel) -> list[dict[str, Any]]:
        """Each class's most confident images, best first, with the picture the network saw."""
        grid = []
        for label, best in zip(self.labels, self.best, strict=True):
            images_of_class = []
            for probability, _, item in sorted(best, key=lambda e: (-e[0], -e[1])):
                view = network_view(model.prepare(item.path, self.max_pixels), model.info)
                images_of_class.append(
                    {
                        "path": item.shown,
                        "percent": round(100 * probability, 2),
                        "image": png_data_uri(view),
                    }
                )
            grid.append({"label": label, "images": images_of_class})
        return grid


class ValuesTally:
    """A generic model's answers, image by image; with known values, its error per output."""

    def __init__(self, outputs: list[str]):
        self.outputs = outputs
        self.rows: list[dict[str, Any]] = []
        self.absolute = np.zeros(len(outputs))
        self.squared = np.zeros(len(outputs))
        self.known = 0

    def add(self, item: Item, values: np.ndarray) -> None:
        self.rows.append({"path": item.shown, "output": values.tolist(), "target": item.target})
        if item.target is not None:
            error = values.astype(np.float64) - np.asarray(item.target)
            self.absolute += np.abs(error)
            self.squared += error**2
            self.known += 1

    def summary(self, model: inference.LoadedModel) -> dict[str, Any]:
        return {
            "outputs": self.outputs,
            "epoch": model.info.epoch,
            "classified": len(self.rows),
            "rows": self.rows,
            "target_errors": {
                "count": self.known,
                "mae": dict(zip(self.outputs, (self.absolute / self.known).tolist(), strict=True)),
                "mse": dict(zip(self.outputs, (self.squared / self.known).tolist(), strict=True)),
            }
            if self.known
            else None,
        }


def _prepare(model: inference.LoadedModel, item: Item, max_pixels: int) -> np.ndarray | None:
    try:
        return model.prepare(item.path, max_pixels)
    except images.BadImage:
        return None


def classify_many(ctx: JobContext) -> None:
    options = parse_inference_options(ctx.parameters)
    device = inference_device(ctx.settings, node_of(ctx.job.worker or ""))
    ctx.log(f"running on {device.note}")
    try:
        model = inference.load_model(ctx.events.store, options.model, options.epoch, device.name)
    except inference.ModelNotUsable as exc:
        raise JobError(str(exc)) from exc
    labels = model.info.labels
    regression = model.info.regression
    if (ctx.folder / CLASSIFY_LIST_FILE).exists() and regression:
        items, errors = read_values_list(ctx, labels, options.image_folder)
    elif (ctx.folder / CLASSIFY_LIST_FILE).exists():
        items, errors = read_list(ctx, labels, options.image_folder)
    else:
        items, errors = read_upload(ctx, [] if regression else labels), []
    if options.limit:
        items = items[: options.limit]
    if not items:
        raise JobError(
            "no image of the list could be read: "
            + "; ".join(f"line {e['line']}: {e['reason']}" for e in errors[:5])
        )
    max_pixels = ctx.settings.max_image_pixels
    tally = ValuesTally(labels) if regression else Tally(labels, options.top_n, max_pixels)
    ctx.log(f"classifying {len(items)} images with the snapshot of epoch {model.info.epoch:g}")
    # Decoding and resizing release the GIL: threads prepare the next batch, its images in
    # parallel, while torch classifies this one. One batch ahead, so memory stays bounded.
    batches = [items[start : start + BATCH] for start in range(0, len(items), BATCH)]
    with ThreadPoolExecutor(os.cpu_count() or 1) as threads, ThreadPoolExecutor(1) as ahead:

        def prepare(batch: list[Item]) -> list[np.ndarray | None]:
            return list(threads.map(lambda item: _prepare(model, item, max_pixels), batch))

        pending = ahead.submit(prepare, batches[0])
        done = 0
        for number, batch in enumerate(batches):
            pixels = pending.result()
            if number + 1 < len(batches):
                pending = ahead.submit(prepare, batches[number + 1])
            ctx.check_abort()
            good = [(item, p) for item, p in zip(batch, pixels, strict=True) if p is not None]
            for item, p in zip(batch, pixels, strict=True):
                if p is None:
                    errors.append({"line": None, "path": item.shown, "reason": "not an image"})
            if good:
                scores = model.classify([p for _, p in good])
                for (item, _), probabilities in zip(good, scores, strict=True):
                    tally.add(item, probabilities)
            done += len(batch)
            ctx.progress(done / len(items), done=done, total=len(items))
    results = tally.summary(model) | {"errors": errors} | device.to_dict()
    write_json_atomically(ctx.folder / RESULTS_FILE, results, readable=False)
    for error in errors[:20]:
        ctx.log(f"skipped {error['path']}: {error['reason']}")


if __name__ == "__main__":
    child_main(classify_many)
