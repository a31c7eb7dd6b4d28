"""Databases as DIGITS (through Caffe) wrote them, for the tests: Datum records in LMDB and a
.binaryproto mean, in protobuf's wire format, written here without Caffe."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import lmdb
import numpy as np
from PIL import Image


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _number(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def datum(pixels: np.ndarray, label: int = 0, encoded: bool = False) -> bytes:
    """An image Datum: H x W x C (or H x W) RGB pixels, stored as Caffe stored them (raw C x H x
    W in blue-green-red order, or a whole PNG file when `encoded`)."""
    hwc = pixels if pixels.ndim == 3 else pixels[:, :, None]
    height, width, channels = hwc.shape
    if encoded:
        buffer = io.BytesIO()
        Image.fromarray(hwc[:, :, 0] if channels == 1 else hwc).save(buffer, format="PNG")
        data = buffer.getvalue()
    else:
        bgr = hwc[:, :, ::-1] if channels == 3 else hwc
        data = np.ascontiguousarray(bgr.transpose(2, 0, 1)).tobytes()
    return (
        _number(1, channels)
        + _number(2, height)
        + _number(3, width)
        + _bytes(4, data)
        + _number(5, label)
        + (_number(7, 1) if encoded else b"")
    )


def label_datum(values: list[float]) -> bytes:
    """A generic dataset's label record: its vector as packed float_data."""
    packed = struct.pack(f"<{len(values)}f", *values)
    return _number(1, len(values)) + _number(2, 1) + _number(3, 1) + _bytes(6, packed)


def write_lmdb(path: Path, records: list[bytes]) -> Path:
    env = lmdb.open(str(path), map_size=64 * 2**20, subdir=True)
    with env.begin(write=True) as txn:
        for index, record in enumerate(records):
            txn.put(f"{index:08d}".encode(), record)
    env.close()
    return path


def write_mean(path: Path, mean: np.ndarray) -> Path:
    """A BlobProto of an H x W x C RGB mean, C x H x W blue-green-red as Caffe kept it."""
    channels = mean.shape[2]
    chw = (mean[:, :, ::-1] if channels == 3 else mean).transpose(2, 0, 1).astype(np.float32)
    packed = struct.pack(f"<{chw.size}f", *chw.ravel())
    header = (
        _number(1, 1) + _number(2, channels) + _number(3, mean.shape[0]) + _number(4, mean.shape[1])
    )
    path.write_bytes(header + _bytes(5, packed))
    return path
