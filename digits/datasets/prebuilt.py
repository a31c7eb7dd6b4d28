"""Datasets from databases DIGITS (through Caffe) already built: read as they are, record by
record, into ours. Two ways in:

- a generic dataset's `method=prebuilt`, as DIGITS' generic form had it: LMDBs of image Datums
  (`prebuilt_train_images`, `prebuilt_val_images`), optionally LMDBs of label Datums in the same
  order (`prebuilt_train_labels`, `prebuilt_val_labels`: each record's float_data is the image's
  vector of values; without them, each image's own label is its one value), and a mean
  (`prebuilt_mean_file`, .binaryproto; else computed);
- a classification dataset's `method=digits`: an old DIGITS dataset job's folder (`digits_folder`:
  `train_db`, `val_db`, `test_db`, `labels.txt`, `mean.binaryproto`), so a DIGITS user trains here
  on what they already built.

Every image must have the first one's shape (DIGITS' `force_same_shape`: a batch needs one size).
Runs as `python -m digits.datasets.prebuilt <job id>` in a child of the worker.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from digits.data_roots import PathNotAllowed, resolve_in_roots
from digits.datasets import caffe, layout, targets
from digits.datasets.creation import _finish_interrupted_swap, _swap_into_place, _write_mean
from digits.datasets.database import (
    DatabaseWriter,
    database_entries,
    database_size,
    encode_record,
)
from digits.datasets.images import DEFAULT_RESIZE_MODE
from digits.datasets.layout import DatasetInfo, ImageFormat, SplitFigures, write_info
from digits.datasets.options import DatasetOptions, parse_options
from digits.datasets.parsing import parse_labels_file
from digits.jobs.child import child_main
from digits.jobs.context import JobContext, JobError

PREBUILT_METHODS = ("prebuilt", "digits")
PROGRESS_EVERY = 500  # records


class Sources:
    """What one job reads: per split (images LMDB, labels LMDB or None), classes, mean file."""

    def __init__(self):
        self.splits: dict[str, tuple[Path, Path | None]] = {}
        self.labels: list[str] | None = None  # a classification dataset's classes
        self.mean: Path | None = None


def find_sources(options: DatasetOptions, roots: tuple[Path, ...]) -> Sources:
    """The databases and files the options name, each inside the data roots (JobError if not)."""
    sources = Sources()
    if options.method == "digits":
        folder = _in_roots(options.prebuilt["digits_folder"], roots, "digits_folder")
        for split in ("train", "val", "test"):
            if (folder / layout.database(split)).is_dir():
                sources.splits[split] = (folder / layout.database(split), None)
        if "train" not in sources.splits or not (folder / layout.LABELS).is_file():
            raise JobError(f"{folder} is not a DIGITS dataset folder (train_db and labels.txt)")
        sources.labels = parse_labels_file((folder / layout.LABELS).read_text())
        mean = folder / "mean.binaryproto"
        sources.mean = mean if mean.is_file() else None
        return sources
    for split in ("train", "val"):
        images = options.prebuilt.get(f"prebuilt_{split}_images")
        if images:
            field = f"prebuilt_{split}_labels"
            labels = options.prebuilt.get(field)
            sources.splits[split] = (
                _in_roots(images, roots, f"prebuilt_{split}_images"),
                _in_roots(labels, roots, field) if labels else None,
            )
    mean = options.prebuilt.get("prebuilt_mean_file")
    sources.mean = _in_roots(mean, roots, "prebuilt_mean_file") if mean else None
    return sources


def _in_roots(text: str, roots, field: str) -> Path:
    try:
        return resolve_in_roots(text, roots)
    except PathNotAllowed as exc:
        raise JobError(f"{field}: {exc}") from None


def build(ctx: JobContext) -> None:
    _finish_interrupted_swap(ctx.folder)
    options = parse_options(ctx.parameters)
    sources = find_sources(options, ctx.settings.data_roots)
    staging = ctx.folder / ".build"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        _build(ctx, options, sources, staging)
    except caffe.NotCaffeData as exc:
        raise JobError(str(exc)) from None
    _swap_into_place(staging, ctx.folder)


def _build(ctx: JobContext, options: DatasetOptions, sources: Sources, staging: Path) -> None:
    total = sum(database_entries(images) for images, _ in sources.splits.values())
    ctx.log(f"reading {total} records of {', '.join(sources.splits)}")
    generic = sources.labels is None
    copier = _Copier(ctx, options, sources.labels, total)
    splits, tables = {}, {}
    for split, (images, labels) in sources.splits.items():
        splits[split], tables[split] = copier.copy(split, staging, images, labels)
    if copier.shape is None:
        raise JobError("the training database holds no image")
    height, width, channels = copier.shape
    mean = copier.mean()
    if sources.mean is not None:
        mean = caffe.read_mean(sources.mean)
        if mean.shape != copier.shape:
            raise JobError(
                f"prebuilt_mean_file: a {mean.shape[1]}x{mean.shape[0]} mean for "
                f"{width}x{height} images"
            )
    _write_mean(staging, mean)
    outputs = None
    if generic:
        widths = {table.shape[1] for table in tables.values()}
        if len(widths) != 1:
            raise JobError("the label databases give vectors of different lengths per split")
        outputs = [f"y{i + 1}" for i in range(widths.pop())]
        for split, table in tables.items():
            targets.save_targets(staging, split, table)
    else:
        (staging / layout.LABELS).write_text("\n".join(sources.labels) + "\n")
    image = ImageFormat(width, height, channels, DEFAULT_RESIZE_MODE, options.encoding)
    info = DatasetInfo(labels=sources.labels or [], image=image, splits=splits, outputs=outputs)
    write_info(staging, info)
    ctx.progress(1.0, done=total, total=total)


class _Copier:
    """Records into our databases, the shape checked and the training mean summed on the way."""

    def __init__(self, ctx: JobContext, options, labels: list[str] | None, total: int):
        self.ctx, self.options, self.labels, self.total = ctx, options, labels, total
        self.shape: tuple[int, int, int] | None = None
        self.done = 0
        self.pixel_sum: np.ndarray | None = None
        self.summed = 0

    def copy(self, split: str, staging: Path, images: Path, labels: Path | None):
        writer = DatabaseWriter(staging / layout.database(split))
        per_class = [0] * len(self.labels) if self.labels is not None else []
        values: list[list[float]] = []
        label_records = caffe.read_datums(labels) if labels else None
        for key, datum in caffe.read_datums(images):
            pixels = self._checked(datum.pixels(), split, key)
            if self.labels is None:
                vector = next(label_records, (None, None))[1] if label_records else datum
                if vector is None:
                    raise JobError(f"prebuilt_{split}_labels has fewer records than the images")
                label = len(values)
                values.append(vector.values() if label_records else [float(datum.label)])
            else:
                label = datum.label
                if not 0 <= label < len(self.labels):
                    raise JobError(f"{split} record {key!r}: label {label} is not in labels.txt")
                per_class[label] += 1
            writer.put(encode_record(pixels, label, self.options.encoding))
            if split == "train":
                as_float = pixels.astype(np.float64)
                self.pixel_sum = as_float if self.pixel_sum is None else self.pixel_sum + as_float
                self.summed += 1
            self._progress()
        writer.close()
        size = database_size(staging / layout.database(split))
        figures = SplitFigures(writer.count, per_class, 0, size)
        self.ctx.log(f"{split}: {writer.count} images")
        return figures, np.asarray(values, np.float32) if self.labels is None else None

    def _checked(self, pixels: np.ndarray, split: str, key: bytes) -> np.ndarray:
        pixels = pixels if pixels.ndim == 3 else pixels[:, :, None]
        if self.shape is None:
            self.shape = pixels.shape
        elif pixels.shape != self.shape:
            first, this = self.shape, pixels.shape
            raise JobError(
                f"{split} record {key.decode(errors='replace')}: a {this[1]}x{this[0]}x{this[2]} "
                f"image where the first was {first[1]}x{first[0]}x{first[2]}: every image of a "
                "dataset needs one shape (DIGITS' force_same_shape)"
            )
        return pixels

    def _progress(self) -> None:
        self.done += 1
        if self.done % PROGRESS_EVERY == 0:
            self.ctx.check_abort()
            self.ctx.progress(0.99 * self.done / self.total, done=self.done, total=self.total)

    def mean(self) -> np.ndarray:
        if not self.summed:
            raise JobError("the training database holds no image")
        return self.pixel_sum / self.summed


if __name__ == "__main__":
    child_main(build)
