"""The dataset job: images in, LMDB databases, labels, mean image and a summary out.

Run as `python -m digits.datasets.creation <job id>` by the worker (see digits.jobs.child).
Decoding and resizing run in a process per core; this process is the databases' one writer.
Everything is built in `.build/` inside the job's folder and moved into place at the end, so
a job that dies midway leaves nothing half-written where training would look.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from digits.data_roots import PathNotAllowed, resolve_in_roots
from digits.datasets import images, layout, targets, unpacking
from digits.datasets.database import (
    DatabaseWriter,
    database_size,
    encode_record,
    open_database,
)
from digits.datasets.layout import (
    DatasetInfo,
    ImageFormat,
    SplitFigures,
    read_info,
    write_info,
)
from digits.datasets.options import DatasetOptions, parse_options
from digits.datasets.parsing import (
    SPLITS,
    Entry,
    Parsed,
    ParseError,
    folder_in_roots,
    parse_folder,
    parse_labels_file,
    parse_list_file,
)
from digits.jobs.child import child_main
from digits.jobs.context import JobContext, JobError

CHUNK = 64  # images per task sent to a decoding process
MAX_LISTED_SKIPS = 1000
MAX_LOGGED_SKIPS = 20  # log lines (events) for skipped files; the rest are counted


def build_dataset(ctx: JobContext) -> None:
    """Build the databases, or add the images of each pending "Add images" request."""
    _finish_interrupted_swap(ctx.folder)
    options = parse_options(ctx.parameters)
    roots = ctx.settings.data_roots + (ctx.folder,)
    info = read_info(ctx.folder)
    if info is None:
        _build(ctx, options, _parse(ctx, options, roots), roots, base=None)
    appends = ctx.parameters.get("appends", [])
    for number in range(read_info(ctx.folder).appends_applied, len(appends)):
        ctx.log(f"adding images ({number + 1} of {len(appends)} requests)")
        parsed = _parse_append(ctx, options, appends[number], number, roots)
        _build(ctx, options, parsed, roots, base=read_info(ctx.folder))


def _build(ctx, options: DatasetOptions, parsed: Parsed, roots, base: DatasetInfo | None) -> None:
    """Write `parsed` into databases (after `base`'s images, if given) and swap them in."""
    for message in parsed.messages:
        ctx.log(message)
    staging = ctx.folder / ".build"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    if base is not None:
        for split in base.splits:  # a compact copy to append to; the original stays intact
            (staging / layout.database(split)).mkdir()
            env = open_database(ctx.folder / layout.database(split))
            env.copy(str(staging / layout.database(split)), compact=True)
            env.close()
    total = sum(len(parsed.splits[s]) for s in SPLITS)
    kinds = f"{len(parsed.outputs)} outputs" if parsed.outputs else f"{len(parsed.labels)} classes"
    ctx.log(
        f"{kinds}, {total} images: " + ", ".join(f"{s} {len(parsed.splits[s])}" for s in SPLITS)
    )
    splits, skipped, listed = _write_databases(ctx, options, parsed, roots, staging, total, base)
    if parsed.outputs is None:
        (staging / layout.LABELS).write_text("\n".join(parsed.labels) + "\n")
        _write_image_lists(ctx.folder, staging, listed, appended=base is not None)
    for split, values in parsed.targets.items():
        targets.save_targets(staging, split, values)
    image = ImageFormat(
        options.width, options.height, options.channels, options.resize_mode, options.encoding
    )
    info = DatasetInfo(
        labels=parsed.labels,
        image=image,
        splits=splits,
        skipped=skipped,
        messages=(base.messages if base else []) + parsed.messages,
        appends_applied=base.appends_applied + 1 if base else 0,
        outputs=parsed.outputs,
    )
    write_info(staging, info)
    _swap_into_place(staging, ctx.folder)
    ctx.progress(1.0, done=total, total=total)


def _write_image_lists(folder: Path, staging: Path, listed: dict, appended: bool) -> None:
    """DIGITS' `train.txt`, `val.txt`, `test.txt`: a `path label` line per image in the
    databases, in their order (its walkthrough classifies `val.txt` with Classify Many)."""
    for split, lines in listed.items():
        before = folder / layout.image_list(split)
        earlier = before.read_text() if appended and before.exists() else ""
        (staging / layout.image_list(split)).write_text(earlier + "".join(lines))


def _swap_into_place(staging: Path, folder: Path) -> None:
    """Replace each file and database by the new one; see _finish_interrupted_swap."""
    for item in sorted(staging.iterdir(), key=lambda p: p.name == layout.INFO):  # info.json last
        target, old = folder / item.name, folder / f".old-{item.name}"
        if target.exists():
            os.rename(target, old)
        os.rename(item, target)
        _remove(old)
    staging.rmdir()


def _finish_interrupted_swap(folder: Path) -> None:
    """After a crash mid-swap: put back any original whose replacement never arrived."""
    for old in folder.glob(".old-*"):
        target = folder / old.name[len(".old-") :]
        if target.exists():
            _remove(old)
        else:
            os.rename(old, target)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _parse_append(ctx, options: DatasetOptions, request: dict, number: int, roots) -> Parsed:
    """The images of one "Add images" request, labelled in the dataset's (grown) label list."""
    labels = read_info(ctx.folder).labels
    try:
        if request.get("method") == "upload":
            unpacked = ctx.folder / layout.append_folder(number) / "images"
            if not unpacked.exists():
                unpacking.extract_archive(
                    ctx.folder / layout.append_folder(number) / "archive",
                    unpacked,
                    unpacking.ArchiveLimits.from_settings(ctx.settings),
                )
            source = unpacking.images_root(unpacked)
        else:
            source = folder_in_roots(request.get("folder_train", ""), roots, "folder_train")
        pct_val = float(request.get("folder_pct_val") or 0)
        pct_test = float(request.get("folder_pct_test") or 0)
        seed = options.seed + number + 1
        new = parse_folder(source, pct_val, pct_test, 1, None, seed=seed, min_classes=1)
    except (ParseError, unpacking.UnsafeArchive) as exc:
        raise JobError(str(exc)) from exc
    combined = labels + [label for label in new.labels if label not in labels]
    for entries in new.splits.values():
        for entry in entries:
            entry.label = combined.index(new.labels[entry.label])
    new.labels = combined
    return new


def _parse(ctx: JobContext, options: DatasetOptions, roots: tuple[Path, ...]) -> Parsed:
    try:
        if options.method == "csv":
            return _parse_csv(ctx, options, roots)
        if options.method == "textfile":
            return _parse_lists(ctx.folder, options)
        if options.method == "upload":
            unpacked = ctx.folder / layout.UPLOAD_IMAGES
            if not unpacked.exists():
                ctx.log("unpacking the uploaded archive")
                limits = unpacking.ArchiveLimits.from_settings(ctx.settings)
                unpacking.extract_archive(ctx.folder / layout.UPLOAD_ARCHIVE, unpacked, limits)
            train, val, test = unpacking.images_root(unpacked), None, None
        else:
            train = folder_in_roots(options.folder_train, roots, "folder_train")
            val = options.folder_val and folder_in_roots(options.folder_val, roots, "folder_val")
            test = options.folder_test and folder_in_roots(
                options.folder_test, roots, "folder_test"
            )
        return parse_folder(
            train,
            options.pct_val,
            options.pct_test,
            options.min_per_class,
            options.max_per_class,
            val or None,
            test or None,
            options.seed,
        )
    except (ParseError, unpacking.UnsafeArchive) as exc:
        raise JobError(str(exc)) from exc


def _parse_csv(ctx: JobContext, options: DatasetOptions, roots: tuple[Path, ...]) -> Parsed:
    """A generic dataset: the CSVs' rows, images under `csv_folder` or the uploaded archive's
    root; without a validation CSV, `folder_pct_val` (and `folder_pct_test`) of the rows."""
    prefix = options.csv_folder
    if (ctx.folder / layout.UPLOAD_ARCHIVE).exists():
        unpacked = ctx.folder / layout.UPLOAD_IMAGES
        if not unpacked.exists():
            ctx.log("unpacking the uploaded archive")
            limits = unpacking.ArchiveLimits.from_settings(ctx.settings)
            unpacking.extract_archive(ctx.folder / layout.UPLOAD_ARCHIVE, unpacked, limits)
        prefix = str(unpacked)  # the CSV's paths are relative to the archive's root
    elif prefix:
        prefix = str(folder_in_roots(prefix, roots, "csv_folder"))
    tables = {
        split: targets.parse_csv((ctx.folder / name).read_text(errors="replace"), field, prefix)
        for split, name, field in (
            ("train", layout.CSV_LISTS["train"], "csv_train"),
            ("val", layout.CSV_LISTS["val"], "csv_val"),
        )
        if (ctx.folder / name).exists()
    }
    if "val" in tables and tables["val"].outputs != tables["train"].outputs:
        raise ParseError("csv_val", "the validation CSV's outputs differ from the training CSV's")
    if "val" not in tables:
        tables |= _split_rows(tables["train"], options)
    parsed = Parsed(labels=[], splits={s: [] for s in SPLITS}, outputs=tables["train"].outputs)
    for split, table in tables.items():
        parsed.splits[split] = [Entry(path, row) for row, path in enumerate(table.paths)]
        parsed.targets[split] = table.values
    return parsed


def _split_rows(table: targets.TargetTable, options: DatasetOptions) -> dict:
    """The rows shuffled (seeded), then the validation and test shares taken off the end."""
    rows = list(range(len(table.paths)))
    random.Random(options.seed).shuffle(rows)
    val = round(len(rows) * options.pct_val / 100)
    test = round(len(rows) * options.pct_test / 100)
    train_rows = rows[: len(rows) - val - test]
    parts = {"train": sorted(train_rows)}
    if val:
        parts["val"] = sorted(rows[len(train_rows) : len(train_rows) + val])
    if test:
        parts["test"] = sorted(rows[len(train_rows) + val :])
    return {split: table.subset(part) for split, part in parts.items()}


def _parse_lists(folder: Path, options: DatasetOptions) -> Parsed:
    lists = folder / layout.LISTS
    labels = parse_labels_file((lists / "labels.txt").read_text())
    parsed = Parsed(labels=labels, splits={s: [] for s in SPLITS})
    rng = random.Random(options.seed)
    for split in SPLITS:
        path = lists / f"{split}.txt"
        if path.exists():
            entries = parse_list_file(
                path.read_text(),
                f"textfile_{split}_images",
                options.textfile_prefix.get(split, ""),
                labels,
            )
            if options.textfile_shuffle:
                rng.shuffle(entries)
            parsed.splits[split] = entries
    return parsed


@dataclass(frozen=True)
class _Settings:
    """What each decoding process needs; sent once, at start-up."""

    width: int
    height: int
    channels: int
    resize_mode: str
    encoding: str
    seed: int
    roots: tuple[Path, ...]
    max_pixels: int = images.DEFAULT_MAX_PIXELS


_worker_settings: _Settings | None = None


def _init_worker(settings: _Settings) -> None:
    global _worker_settings
    _worker_settings = settings
    # Forked from the job's process, a decoder would inherit its SIGTERM handler (raise
    # JobAborted) and could die holding the pool's queue lock, hanging the others and the
    # job with them: a decoder just ends on SIGTERM.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def prepare_image(path: str, position: tuple[int, int], settings: _Settings) -> np.ndarray:
    """One image as it goes into the database (noise seeded per image: any chunking, same data)."""
    real = resolve_in_roots(path, settings.roots)
    # Never decoded smaller than the larger target side: every resize mode still shrinks.
    at_least = max(settings.width, settings.height)
    image = images.load_image(
        real, settings.channels, at_least=at_least, max_pixels=settings.max_pixels
    )
    rng = np.random.default_rng([settings.seed, *position])
    return images.resize_image(image, settings.width, settings.height, settings.resize_mode, rng)


def _process_chunk(chunk: list[tuple[int, str, int]]):
    """Decode, resize and encode a chunk; records (or None) and the chunk's pixel sum."""
    settings = _worker_settings
    records, skipped, pixel_sum = [], [], None
    for index, path, label in chunk:
        try:
            pixels = prepare_image(path, index, settings)
        except (images.BadImage, PathNotAllowed, OSError) as exc:
            records.append(None)
            skipped.append((path, str(exc)))
            continue
        records.append(encode_record(pixels, label, settings.encoding))
        as_float = pixels.astype(np.float64)
        pixel_sum = as_float if pixel_sum is None else pixel_sum + as_float
    return records, skipped, pixel_sum


def _write_databases(
    ctx, options, parsed, roots, staging, total, base: DatasetInfo | None = None
) -> tuple[dict[str, SplitFigures], list[dict[str, str]]]:
    """Each split's database written (after `base`'s records); their figures, the first
    skipped images, and each split's `path label` lines."""
    settings = _Settings(
        options.width,
        options.height,
        options.channels,
        options.resize_mode,
        options.encoding,
        options.seed,
        roots,
        ctx.settings.max_image_pixels,
    )
    splits: dict[str, SplitFigures] = {}
    listed: dict[str, list[str]] = {}  # each split's `path label` lines, as written
    listed_skips: list[dict[str, str]] = list(base.skipped) if base else []
    done, started, mean_sum, mean_count = 0, time.monotonic(), None, 0
    if base is not None:  # the mean so far, weighted by its image count
        mean_count = base.entries("train")
        mean = np.load(ctx.folder / layout.MEAN_NPY).astype(np.float64)
        mean_sum = (mean[:, :, 0] if options.channels == 1 else mean) * mean_count
    with multiprocessing.get_context("fork").Pool(
        os.cpu_count() or 1, initializer=_init_worker, initargs=(settings,)
    ) as pool:
        for split_number, split in enumerate(SPLITS):
            entries = parsed.splits[split]
            before = base.splits.get(split) if base else None
            if not entries and not before:
                continue
            writer = DatabaseWriter(staging / layout.database(split))
            per_class = list(before.per_class) if before else []
            per_class = per_class + [0] * (len(parsed.labels) - len(per_class))
            skipped = before.skipped if before else 0
            chunks = _chunks(entries, split_number, writer.count)
            results = pool.imap(_process_chunk, chunks)
            for chunk, (records, bad, pixel_sum) in zip(chunks, results, strict=True):
                ctx.check_abort()
                for (_, path, label), record in zip(chunk, records, strict=True):
                    if record is not None:
                        writer.put(record)
                        listed.setdefault(split, []).append(f"{path} {label}\n")
                        if parsed.outputs is None:  # a generic label is a row, not a class
                            per_class[label] += 1
                for path, reason in bad:
                    skipped += 1
                    if skipped <= MAX_LOGGED_SKIPS:  # a sample; the count says the rest
                        ctx.log(f"skipped {path}: {reason}")
                    if len(listed_skips) < MAX_LISTED_SKIPS:
                        listed_skips.append({"split": split, "path": path, "reason": reason})
                if split == "train" and pixel_sum is not None:
                    mean_sum = pixel_sum if mean_sum is None else mean_sum + pixel_sum
                    mean_count += len(records) - len(bad)
                done += len(chunk)
                elapsed = time.monotonic() - started
                ctx.progress(
                    0.99 * done / total, done=done, total=total, eta=elapsed / done * (total - done)
                )
            writer.close()
            size = database_size(staging / layout.database(split))
            splits[split] = SplitFigures(writer.count, per_class, skipped, size)
            if skipped > MAX_LOGGED_SKIPS:
                ctx.log(f"{split}: {skipped - MAX_LOGGED_SKIPS} more skipped (see the page)")
            ctx.log(f"{split}: {writer.count} images written, {skipped} skipped")
        pool.close()  # all done: let the decoders finish rather than be terminated
        pool.join()
    if not mean_count:
        raise JobError("no training image could be read: nothing to build a dataset from")
    _write_mean(staging, mean_sum / mean_count)
    return splits, listed_skips, listed


def _chunks(entries: list[Entry], split_number: int, first_index: int) -> list[list[tuple]]:
    """Chunks of ((split, index in database), path, label); the pair seeds the image's noise."""
    numbered = [((split_number, first_index + i), e.path, e.label) for i, e in enumerate(entries)]
    return [numbered[i : i + CHUNK] for i in range(0, len(numbered), CHUNK)]


def _write_mean(folder: Path, mean: np.ndarray) -> None:
    if mean.ndim == 2:
        mean = mean[:, :, None]
    np.save(folder / layout.MEAN_NPY, mean.astype(np.float32))
    pixels = np.clip(np.rint(mean), 0, 255).astype(np.uint8)
    Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(
        folder / layout.MEAN_PNG
    )


if __name__ == "__main__":
    child_main(build_dataset)
