"""Caffe's `Datum` records and `.binaryproto` mean files, read without Caffe or protobuf.

DIGITS (through Caffe) stored each image of a dataset as a `Datum` in LMDB: `channels` (field 1),
`height` (2), `width` (3), `data` (4: raw C x H x W bytes, blue-green-red for colour images, or
a whole PNG/JPEG file when `encoded`), `label` (5), `float_data` (6: a generic dataset's label
vector) and `encoded` (7). Its mean image is a `BlobProto`: `num`, `channels`, `height`, `width`
(fields 1-4, or the dimensions of a `BlobShape` in field 7) and `data` (5: floats, C x H x W,
blue-green-red). Both are the protobuf wire format, decoded here field by field.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digits.datasets import images
from digits.datasets.database import open_database


class NotCaffeData(ValueError):
    """Bytes that are not the record they should be: say what and where."""


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise NotCaffeData("a number runs past the end of the record")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _fields(data: bytes) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) of each field of a protobuf message."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 1:
            value, position = data[position : position + 8], position + 8
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        elif wire == 5:
            value, position = data[position : position + 4], position + 4
        else:
            raise NotCaffeData(f"field {number} has wire type {wire}, not one of Caffe's")
        if position > len(data):
            raise NotCaffeData(f"field {number} runs past the end of the record")
        yield number, wire, value


def _floats(wire: int, value) -> list[float]:
    """A repeated float field's values: packed (wire type 2) or one (wire type 5)."""
    if wire == 2:
        return list(struct.unpack(f"<{len(value) // 4}f", value[: len(value) // 4 * 4]))
    return [struct.unpack("<f", value)[0]]


@dataclass
class Datum:
    channels: int = 0
    height: int = 0
    width: int = 0
    data: bytes = b""
    label: int = 0
    float_data: list[float] = field(default_factory=list)
    encoded: bool = False

    def pixels(self) -> np.ndarray:
        """H x W x C uint8, red-green-blue as our databases hold them."""
        if self.encoded:
            image = images.load_image(self.data, 3 if self.channels != 1 else 1)
            return np.asarray(image).reshape(image.height, image.width, -1)
        expected = self.channels * self.height * self.width
        if len(self.data) != expected:
            raise NotCaffeData(
                f"a {self.channels}x{self.height}x{self.width} image needs {expected} bytes, "
                f"the record has {len(self.data)}"
            )
        chw = np.frombuffer(self.data, np.uint8).reshape(self.channels, self.height, self.width)
        hwc = chw.transpose(1, 2, 0)
        return np.ascontiguousarray(hwc[:, :, ::-1] if self.channels == 3 else hwc)

    def values(self) -> list[float]:
        """A label record's vector: its float_data, else its raw bytes, else its label."""
        if self.float_data:
            return self.float_data
        if self.data:
            return [float(b) for b in self.data]
        return [float(self.label)]


def parse_datum(record: bytes) -> Datum:
    datum = Datum()
    for number, wire, value in _fields(record):
        if number == 1:
            datum.channels = value
        elif number == 2:
            datum.height = value
        elif number == 3:
            datum.width = value
        elif number == 4 and wire == 2:
            datum.data = bytes(value)
        elif number == 5:
            datum.label = value - (1 << 64) if value >= 1 << 63 else value  # int32 as varint
        elif number == 6:
            datum.float_data.extend(_floats(wire, value))
        elif number == 7:
            datum.encoded = bool(value)
    return datum


def read_datums(path: Path) -> Iterator[tuple[bytes, Datum]]:
    """(key, Datum) of each record of a Caffe LMDB, in key order."""
    env = open_database(path)
    try:
        with env.begin() as txn:
            for key, value in txn.cursor():
                try:
                    yield bytes(key), parse_datum(bytes(value))
                except NotCaffeData as exc:
                    raise NotCaffeData(f"record {bytes(key)!r} of {path}: {exc}") from None
    finally:
        env.close()


def read_mean(path: Path) -> np.ndarray:
    """A `.binaryproto` mean image as H x W x C float32, red-green-blue."""
    dims: list[int] = []
    sizes = {1: 1, 2: 0, 3: 0, 4: 0}
    data: list[float] = []
    for number, wire, value in _fields(path.read_bytes()):
        if number in sizes and wire == 0:
            sizes[number] = value
        elif number == 5:
            data.extend(_floats(wire, value))
        elif number == 7 and wire == 2:  # BlobShape: repeated int64 dim, packed or not
            for dim_number, dim_wire, dim in _fields(value):
                if dim_number == 1 and dim_wire == 0:
                    dims.append(dim)
                elif dim_number == 1 and dim_wire == 2:
                    position = 0
                    while position < len(dim):
                        one, position = _varint(dim, position)
                        dims.append(one)
    channels, height, width = dims[-3:] if len(dims) >= 3 else (sizes[2], sizes[3], sizes[4])
    if not data or len(data) != channels * height * width:
        raise NotCaffeData(f"{path.name} is not a mean image (.binaryproto)")
    hwc = np.asarray(data, np.float32).reshape(channels, height, width).transpose(1, 2, 0)
    return np.ascontiguousarray(hwc[:, :, ::-1] if channels == 3 else hwc)
