"""The LMDB databases of a dataset: the record format, a batching writer, and readers.

A record holds one image and its label:

    b"DGT1" | label int32 | height uint16 | width uint16 | channels uint8 | encoding uint8 | data

little-endian, where `data` is a PNG or JPEG file, or the raw HxWxC pixels for encoding "none".
Keys are the image's index as 10 zero-padded digits, so LMDB's key order is insertion order.
"""

from __future__ import annotations

import base64
import struct
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import lmdb
import numpy as np

from digits.datasets import images

MAGIC = b"DGT1"
HEADER = struct.Struct("<4siHHBB")
ENCODINGS = {"none": 0, "png": 1, "jpg": 2}
ENCODING_NAMES = {code: name for name, code in ENCODINGS.items()}
INITIAL_MAP_SIZE = 64 * 1024**2


@dataclass(frozen=True)
class Record:
    label: int
    height: int
    width: int
    channels: int
    encoding: str
    data: bytes

    def pixels(self) -> np.ndarray:
        """HxWxC uint8, whatever the encoding."""
        if self.encoding == "none":
            flat = np.frombuffer(self.data, dtype=np.uint8)
            return flat.reshape(self.height, self.width, self.channels).copy()
        pixels = images.decode(self.data, self.channels)
        return pixels.reshape(self.height, self.width, self.channels)

    def png_data_uri(self) -> str:
        """The image as a `data:` URI, for a page to show it inline."""
        return "data:image/png;base64," + base64.b64encode(self.png()).decode()

    def png(self) -> bytes:
        if self.encoding == "png":
            return self.data
        return images.encode_png(
            self.pixels().squeeze(axis=2) if self.channels == 1 else self.pixels()
        )


def encode_record(pixels: np.ndarray, label: int, encoding: str) -> bytes:
    """One record from HxW or HxWxC uint8 pixels."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width, channels = pixels.shape
    plain = pixels[:, :, 0] if channels == 1 else pixels
    if encoding == "png":
        data = images.encode_png(plain)
    elif encoding == "jpg":
        data = images.encode_jpeg(plain)
    elif encoding == "none":
        data = np.ascontiguousarray(pixels).tobytes()
    else:
        raise ValueError(f"unknown encoding {encoding!r}")
    return HEADER.pack(MAGIC, label, height, width, channels, ENCODINGS[encoding]) + data


def decode_record(value: bytes) -> Record:
    magic, label, height, width, channels, code = HEADER.unpack_from(value)
    if magic != MAGIC:
        raise ValueError("not a DIGITS image record")
    return Record(label, height, width, channels, ENCODING_NAMES[code], bytes(value[HEADER.size :]))


def record_label(value: bytes) -> int:
    return HEADER.unpack_from(value)[1]


def key_for(index: int) -> bytes:
    return f"{index:010d}".encode()


class DatabaseWriter:
    """The single writer of one database: puts in batches, grows the map when it fills up."""

    def __init__(self, path: Path, batch_size: int = 500):
        path.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(str(path), map_size=INITIAL_MAP_SIZE, subdir=True, lock=True)
        self.batch_size = batch_size
        self._pending: list[tuple[bytes, bytes]] = []
        with self.env.begin() as txn:
            self.count = txn.stat()["entries"]  # appending continues after what is there

    def put(self, value: bytes) -> None:
        self._pending.append((key_for(self.count), value))
        self.count += 1
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        while self._pending:
            try:
                with self.env.begin(write=True) as txn:
                    for key, value in self._pending:
                        txn.put(key, value)
                self._pending = []
            except lmdb.MapFullError:
                self.env.set_mapsize(self.env.info()["map_size"] * 2)

    def close(self) -> None:
        self.flush()
        self.env.sync()
        self.env.close()


def open_database(path: Path) -> lmdb.Environment:
    """A read-only environment; open one per process, never share it across fork or spawn."""
    return lmdb.open(str(path), readonly=True, lock=False, readahead=False, subdir=True)


_locks_lock = threading.Lock()
_path_locks: dict[str, threading.Lock] = {}


@contextmanager
def _reading(path: Path) -> Iterator[lmdb.Environment]:
    """A read-only environment of `path`, opened by one thread of this process at a time:
    LMDB refuses a second open of a database in one process, and a web server's threads ask
    at once (Explore's page loads its images together)."""
    with _locks_lock:
        lock = _path_locks.setdefault(str(path), threading.Lock())
    with lock:
        env = open_database(path)
        try:
            yield env
        finally:
            env.close()


def database_size(path: Path) -> int:
    """Bytes on disk (the data file, not the reserved map)."""
    return sum(f.stat().st_size for f in path.glob("*.mdb"))


def records_at(path: Path, indexes: Iterable[int]) -> list[Record]:
    """A database's records of these numbers, in that order (those it has)."""
    with _reading(path) as env, env.begin() as txn:
        values = [txn.get(key_for(index)) for index in indexes]
    return [decode_record(value) for value in values if value is not None]


def database_entries(path: Path) -> int:
    """The records of an LMDB database (ours or another's), read-only."""
    with _reading(path) as env:
        return env.stat()["entries"]


def browse(
    path: Path, offset: int, limit: int, label: int | None = None
) -> tuple[list[tuple[str, int]], int]:
    """A page of (key, label) from the database, optionally of one label; plus the match
    count. Only the records' headers are read: a page shows each image by its own request
    (read_record), so a page of large images is never held at once."""
    with _reading(path) as env, env.begin() as txn:
        matches = 0
        page = []
        for key, value in txn.cursor():
            record = record_label(value)
            if label is not None and record != label:
                continue
            if offset <= matches < offset + limit:
                page.append((key.decode(), record))
            matches += 1
        return page, matches


def read_record(path: Path, key: str) -> Record | None:
    """The record stored under `key`, or None."""
    with _reading(path) as env, env.begin() as txn:
        value = txn.get(key.encode())
        return None if value is None else decode_record(value)


def iterate(path: Path) -> Iterator[Record]:
    with _reading(path) as env, env.begin() as txn:
        for _, value in txn.cursor():
            yield decode_record(value)
