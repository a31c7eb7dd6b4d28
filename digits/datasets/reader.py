"""Reading a dataset's database for training: a torch Dataset safe for DataLoader workers."""

from __future__ import annotations

import os
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
