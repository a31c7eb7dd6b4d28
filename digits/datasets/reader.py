"""Reading a dataset's database for training: a torch Dataset safe for DataLoader workers."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from digits.datasets.database import decode_record, key_for, open_database


class LmdbImageDataset(Dataset):
    """Images and labels from one LMDB database, as CxHxW uint8 tensors.

    The environment is opened lazily, once per process: an open LMDB environment must not
    cross a fork or be pickled for spawn, so each DataLoader worker opens its own.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        env = open_database(self.path)
        self._length = env.stat()["entries"]
        env.close()
        self._txn = None
        self._pid = None

    def __len__(self) -> int:
        return self._length

    def __getstate__(self):
        return {"path": self.path, "_length": self._length, "_txn": None, "_pid": None}

    def _transaction(self):
        # One read-only transaction per process, kept open: the database no longer changes.
        if self._txn is None or self._pid != os.getpid():
            self._txn = open_database(self.path).begin(buffers=True)
            self._pid = os.getpid()
        return self._txn

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not 0 <= index < self._length:
            raise IndexError(index)
        record = decode_record(self._transaction().get(key_for(index)))
        pixels = np.ascontiguousarray(record.pixels().transpose(2, 0, 1))
        return torch.from_numpy(pixels), record.label


class InMemoryImages:
    """A database's images decoded once into one uint8 tensor (N x C x H x W) and its labels,
    for datasets that fit in memory (Ultralytics' `cache=ram`): every epoch then reads memory,
    and no loader process competes with training for the cores.

    Large images decode on `threads` (the codecs release the GIL while they work); small ones
    in one thread, where the per-image Python work would only contend for the GIL."""

    PARALLEL_FROM = 64 * 64  # pixels an image needs before threads pay

    def __init__(self, path: Path, threads: int = 1):
        env = open_database(Path(path))
        try:
            with env.begin(buffers=True) as txn:
                count = env.stat()["entries"]
                first = decode_record(txn.get(key_for(0))) if count else None
            shape = (first.channels, first.height, first.width) if first else (1, 1, 1)
            pixels = np.empty((count, *shape), dtype=np.uint8)
            labels = np.empty(count, dtype=np.int64)
            if shape[1] * shape[2] < self.PARALLEL_FROM:
                threads = 1
            chunk = max(1, -(-count // max(1, threads)))
            parts = [range(start, min(count, start + chunk)) for start in range(0, count, chunk)]
            with ThreadPoolExecutor(max(1, threads)) as pool:
                list(pool.map(lambda part: _decode_into(env, part, pixels, labels), parts))
        finally:
            env.close()
        self.images = torch.from_numpy(pixels)
        self.labels = torch.from_numpy(labels)

    def __len__(self) -> int:
        return len(self.labels)


def _decode_into(env, indices: range, pixels: np.ndarray, labels: np.ndarray) -> None:
    with env.begin(buffers=True) as txn:
        for index in indices:
            record = decode_record(txn.get(key_for(index)))
            pixels[index] = record.pixels().transpose(2, 0, 1)
            labels[index] = record.label


def database_pixels(path: Path) -> int:
    """Bytes the database's images take decoded (N x C x H x W uint8): what caching costs."""
    env = open_database(Path(path))
    try:
        with env.begin(buffers=True) as txn:
            count = env.stat()["entries"]
            if not count:
                return 0
            first = decode_record(txn.get(key_for(0)))
    finally:
        env.close()
    return count * first.channels * first.height * first.width


class MemoryLoader:
    """Batches of an InMemoryImages in a sampler's order, as a DataLoader would give them
    (one gather per batch, no worker processes)."""

    def __init__(self, data: InMemoryImages, sampler, batch_size: int, drop_last: bool = False):
        self.data = data
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __len__(self) -> int:
        count = len(self.sampler)
        return count // self.batch_size if self.drop_last else -(-count // self.batch_size)

    def __iter__(self):
        order = torch.tensor(list(self.sampler), dtype=torch.long)
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            if self.drop_last and len(chosen) < self.batch_size:
                return
            yield self.data.images[chosen], self.data.labels[chosen]
