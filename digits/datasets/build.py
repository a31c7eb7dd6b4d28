"""The dataset job: images in, LMDB databases, labels, mean image and a summary out.

Run as `python -m digits.datasets.build <job id>` by the worker (see digits.jobs.child).
Decoding and resizing run in a process per core; this process is the databases' one writer.
Everything is built in `.build/` inside the job's folder and moved into place at the end, so
a job that dies midway leaves nothing half-written where training would look.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from digits.data_roots import PathNotAllowed, resolve_in_roots
from digits.datasets import archive, images, layout
from digits.datasets.database import DatabaseWriter, database_size, encode_record
from digits.datasets.options import DatasetOptions, parse_options
from digits.datasets.parsing import (
    SPLITS,
    Entry,
    Parsed,
    ParseError,
    parse_folder,
    parse_labels_file,
    parse_list_file,
)
from digits.jobs.child import child_main
from digits.jobs.runner import JobContext, JobError

CHUNK = 64  # images per task sent to a decoding process
MAX_LISTED_SKIPS = 1000


def build_dataset(ctx: JobContext) -> None:
    options = parse_options(ctx.parameters)
    roots = ctx.settings.data_roots + (ctx.folder,)
    parsed = _parse(ctx, options, roots)
    for message in parsed.messages:
        ctx.log(message)
    staging = ctx.folder / ".build"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    total = sum(len(parsed.splits[s]) for s in SPLITS)
    ctx.log(f"{len(parsed.labels)} classes, {total} images: "
            + ", ".join(f"{s} {len(parsed.splits[s])}" for s in SPLITS))  # fmt: skip
    summary = _write_databases(ctx, options, parsed, roots, staging, total)
    (staging / layout.LABELS).write_text("\n".join(parsed.labels) + "\n")
    summary["labels"] = parsed.labels
    summary["messages"] = parsed.messages
    (staging / layout.INFO).write_text(json.dumps(summary, indent=2))
    for item in staging.iterdir():
        target = ctx.folder / item.name
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        os.rename(item, target)
    staging.rmdir()
    ctx.progress(1.0, done=total, total=total)


def _parse(ctx: JobContext, options: DatasetOptions, roots: tuple[Path, ...]) -> Parsed:
    try:
        if options.method == "textfile":
            return _parse_lists(ctx.folder, options)
        if options.method == "upload":
            unpacked = ctx.folder / layout.UPLOAD_IMAGES
            if not unpacked.exists():
                ctx.log("unpacking the uploaded archive")
                archive.extract_archive(ctx.folder / layout.UPLOAD_ARCHIVE, unpacked)
            train, val, test = archive.images_root(unpacked), None, None
        else:
            train = _folder(options.folder_train, roots, "folder_train")
            val = options.folder_val and _folder(options.folder_val, roots, "folder_val")
            test = options.folder_test and _folder(options.folder_test, roots, "folder_test")
        return parse_folder(
            train, options.pct_val, options.pct_test, options.min_per_class,
            options.max_per_class, val or None, test or None, options.seed,
        )  # fmt: skip
    except (ParseError, archive.UnsafeArchive) as exc:
        raise JobError(str(exc)) from exc


def _folder(text: str, roots: tuple[Path, ...], field: str) -> Path:
    try:
        path = resolve_in_roots(text, roots)
    except PathNotAllowed as exc:
        raise ParseError(field, str(exc)) from exc
    if not path.is_dir():
        raise ParseError(field, f"{text} is not a folder")
    return path


def _parse_lists(folder: Path, options: DatasetOptions) -> Parsed:
    lists = folder / layout.LISTS
    labels = parse_labels_file((lists / "labels.txt").read_text())
    parsed = Parsed(labels=labels, splits={s: [] for s in SPLITS})
    rng = random.Random(options.seed)
    for split in SPLITS:
        path = lists / f"{split}.txt"
        if path.exists():
            entries = parse_list_file(path.read_text(), f"textfile_{split}_images",
                                      options.textfile_prefix.get(split, ""), labels)  # fmt: skip
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


_worker_settings: _Settings | None = None


def _init_worker(settings: _Settings) -> None:
    global _worker_settings
    _worker_settings = settings


def prepare_image(path: str, index: int, settings: _Settings) -> np.ndarray:
    """One image as it goes into the database (noise seeded per image: any chunking, same data)."""
    real = resolve_in_roots(path, settings.roots)
    image = images.load_image(real, settings.channels)
    rng = np.random.default_rng([settings.seed, index])
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


def _write_databases(ctx, options, parsed, roots, staging, total) -> dict:
    settings = _Settings(options.width, options.height, options.channels, options.resize_mode,
                         options.encoding, options.seed, roots)  # fmt: skip
    summary = {
        "image": {"width": options.width, "height": options.height, "channels": options.channels,
                  "resize_mode": options.resize_mode, "encoding": options.encoding},
        "splits": {},
        "skipped": [],
    }  # fmt: skip
    done, started, mean_sum, mean_count = 0, time.monotonic(), None, 0
    with multiprocessing.get_context("fork").Pool(
        os.cpu_count() or 1, initializer=_init_worker, initargs=(settings,)
    ) as pool:
        for split in SPLITS:
            entries = parsed.splits[split]
            if not entries:
                continue
            writer = DatabaseWriter(staging / layout.database(split))
            per_class = [0] * len(parsed.labels)
            skipped = 0
            chunks = _chunks(entries, done)
            results = pool.imap(_process_chunk, chunks)
            for chunk, (records, bad, pixel_sum) in zip(chunks, results, strict=True):
                ctx.check_abort()
                for (_, _, label), record in zip(chunk, records, strict=True):
                    if record is not None:
                        writer.put(record)
                        per_class[label] += 1
                for path, reason in bad:
                    skipped += 1
                    ctx.log(f"skipped {path}: {reason}")
                    if len(summary["skipped"]) < MAX_LISTED_SKIPS:
                        summary["skipped"].append({"split": split, "path": path, "reason": reason})
                if split == "train" and pixel_sum is not None:
                    mean_sum = pixel_sum if mean_sum is None else mean_sum + pixel_sum
                    mean_count += len(records) - len(bad)
                done += len(chunk)
                elapsed = time.monotonic() - started
                ctx.progress(0.99 * done / total, done=done, total=total,
                             eta=elapsed / done * (total - done))  # fmt: skip
            writer.close()
            summary["splits"][split] = {
                "entries": writer.count,
                "per_class": per_class,
                "skipped": skipped,
                "db_size": database_size(staging / layout.database(split)),
            }
            ctx.log(f"{split}: {writer.count} images written, {skipped} skipped")
    if not mean_count:
        raise JobError("no training image could be read: nothing to build a dataset from")
    _write_mean(staging, mean_sum / mean_count)
    return summary


def _chunks(entries: list[Entry], first_index: int) -> list[list[tuple[int, str, int]]]:
    numbered = [(first_index + i, e.path, e.label) for i, e in enumerate(entries)]
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
