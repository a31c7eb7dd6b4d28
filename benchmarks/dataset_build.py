"""Building a dataset, and reading it back, against the plain way of doing each.

    .venv/bin/python benchmarks/dataset_build.py [--images 20000]

Build: N 256x256 JPEGs in 10 class folders become a 64x64 PNG LMDB database, (a) by a plain
single-process loop (PIL open, resize, PNG encode, LMDB put), (b) by our dataset builder
(decoding and resizing in a process per core, one LMDB writer). Read: images per second through
a torch DataLoader (2 workers) from our LMDB reader against the same images as PNG files.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import lmdb
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from digits.datasets import creation, layout
from digits.datasets.database import iterate, key_for
from digits.datasets.options import DatasetOptions
from digits.datasets.parsing import parse_folder
from digits.datasets.reader import LmdbImageDataset

CLASSES = 10


def _make_image(args) -> None:
    path, seed = args
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=3)
    ramp = np.linspace(0, 1, 256)[None, :, None] * base[None, None, :]
    noise = rng.integers(0, 40, size=(256, 256, 3))
    pixels = np.clip(ramp + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def make_images(root: Path, count: int) -> None:
    jobs = []
    for n in range(count):
        folder = root / f"class_{n % CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        jobs.append((folder / f"{n:06d}.jpg", n))
    with multiprocessing.Pool() as pool:
        pool.map(_make_image, jobs, chunksize=64)


def plain_loop(paths: list[str], out: Path) -> float:
    started = time.perf_counter()
    env = lmdb.open(str(out), map_size=2 * 1024**3)
    txn = env.begin(write=True)
    for index, path in enumerate(paths):
        image = Image.open(path).convert("RGB").resize((64, 64), Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        txn.put(key_for(index), buffer.getvalue())
        if index % 500 == 499:
            txn.commit()
            txn = env.begin(write=True)
    txn.commit()
    env.close()
    return time.perf_counter() - started


class QuietContext:
    """Stands in for a job's context: the builder reports progress here, nobody listens."""

    def __init__(self, folder: Path):
        self.folder = folder

    def check_abort(self) -> None:
        pass

    def progress(self, *_, **__) -> None:
        pass

    def log(self, _line: str) -> None:
        pass


def our_builder(root: Path, out: Path) -> float:
    options = DatasetOptions(
        name="bench",
        method="folder",
        channels=3,
        width=64,
        height=64,
        resize_mode="squash",
        encoding="png",
        pct_val=0,
    )
    started = time.perf_counter()
    parsed = parse_folder(root, 0, 0, 1, None)
    total = len(parsed.splits["train"])
    creation._write_databases(QuietContext(out), options, parsed, (root,), out, total)
    return time.perf_counter() - started


class PngFiles(Dataset):
    def __init__(self, paths: list[Path]):
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        pixels = np.array(Image.open(self.paths[index]).convert("RGB"))
        return torch.from_numpy(pixels.transpose(2, 0, 1).copy()), 0


def read_rate(dataset: Dataset) -> float:
    loader = DataLoader(dataset, batch_size=128, shuffle=True, num_workers=2)
    started = time.perf_counter()
    seen = sum(len(images) for images, _ in loader)
    return seen / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        make_images(tmp / "images", args.images)
        paths = sorted(str(p) for p in (tmp / "images").rglob("*.jpg"))
        plain = plain_loop(paths, tmp / "plain_db")
        ours = our_builder(tmp / "images", tmp / "ours")
        files = tmp / "png_files"
        files.mkdir()
        for n, record in enumerate(iterate(tmp / "ours" / layout.database("train"))):
            (files / f"{n:06d}.png").write_bytes(record.png())
        lmdb_rate = read_rate(LmdbImageDataset(tmp / "ours" / layout.database("train")))
        files_rate = read_rate(PngFiles(sorted(files.iterdir())))
    n = args.images
    print(f"{n} images, {os.cpu_count()} cores")
    print(f"{'build':<28}{'images/s':>10}{'ratio':>8}")
    print(f"{'plain single-process loop':<28}{n / plain:>10.0f}{1.0:>8.2f}")
    print(f"{'digits dataset builder':<28}{n / ours:>10.0f}{plain / ours:>8.2f}")
    print(f"{'read (DataLoader, 2 workers)':<28}{'images/s':>10}{'ratio':>8}")
    print(f"{'PNG files':<28}{files_rate:>10.0f}{1.0:>8.2f}")
    print(f"{'digits LMDB reader':<28}{lmdb_rate:>10.0f}{lmdb_rate / files_rate:>8.2f}")


if __name__ == "__main__":
    main()
