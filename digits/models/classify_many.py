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

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digits import tasks
from digits.data_roots import PathNotAllowed, PathsInRoots
from digits.datasets import images
from digits.datasets.parsing import class_folders, label_for_folder, list_images
from digits.datasets.unpacking import ArchiveLimits, UnsafeArchive, extract_archive, images_root
from digits.files import write_json_atomically
from digits.forms import is_whole_number
from digits.jobs.child import child_main
from digits.jobs.context import JobContext, JobError
from digits.jobs.heartbeats import node_of
from digits.models import inference
from digits.models.devices import inference_device
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
    target: list[float] | None = None  # a regression model's known values for the image


def read_list(
    ctx: JobContext, labels: list[str], folder_text: str
) -> tuple[list[Item], list[dict]]:
    """The list's images that may be read (relative paths under `folder_text`), and an error
    for each line that cannot."""
    items, errors = [], []
    paths = paths_in_roots(ctx)
    lines = (ctx.folder / CLASSIFY_LIST_FILE).read_text(errors="replace").splitlines()
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        path_text, label, problem = _split_line(text, labels)
        if problem:
            errors.append({"line": number, "path": path_text, "reason": problem})
            continue
        item = list_item(paths, path_text, folder_text, label, number, errors)
        if item:
            items.append(item)
    return items, errors


def paths_in_roots(ctx: JobContext) -> PathsInRoots:
    """The server's data roots, to check a list's paths against (none: the job cannot run)."""
    try:
        return PathsInRoots(ctx.settings.data_roots)
    except PathNotAllowed as exc:
        raise JobError(str(exc)) from exc


def list_item(paths: PathsInRoots, text: str, folder_text: str, label, number: int, errors: list):
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


def has_list(ctx: JobContext) -> bool:
    """Whether the run was given a list of images (else an uploaded archive)."""
    return (ctx.folder / CLASSIFY_LIST_FILE).exists()


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
    task = tasks.get(model.info.task)
    answers = task.inference()
    items, errors = answers.read_items(ctx, model.info.labels, options.image_folder)
    if options.limit:
        items = items[: options.limit]
    if not items:
        raise JobError(
            "no image of the list could be read: "
            + "; ".join(f"line {e['line']}: {e['reason']}" for e in errors[:5])
        )
    max_pixels = ctx.settings.max_image_pixels
    tally = answers.Tally(model, options, max_pixels)
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
    results = {"task": task.name} | tally.summary() | {"errors": errors} | device.to_dict()
    write_json_atomically(ctx.folder / RESULTS_FILE, results, readable=False)
    for error in errors[:20]:
        ctx.log(f"skipped {error['path']}: {error['reason']}")


if __name__ == "__main__":
    child_main(classify_many)
