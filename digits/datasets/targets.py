"""Generic ("Other") datasets: each image has a vector of numbers to learn (regression), given
as a CSV of `path,v1,v2,...` lines, optionally under a header naming the outputs.

The image databases are the classification ones; a record's label is its row in its split's
target table, `<split>_targets.npy` (float32, one row per CSV line in order), so the image
pipeline (decoding, LMDB, loaders, in-memory cache) is the same for both kinds.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digits.datasets.parsing import ParseError

MAX_OUTPUTS = 1000
HISTOGRAM_BINS = 20


def targets_file(split: str) -> str:
    return f"{split}_targets.npy"


@dataclass
class TargetTable:
    outputs: list[str]  # the outputs' names (the header's, else y1, y2, ...)
    paths: list[str]
    values: np.ndarray  # float32, len(paths) x len(outputs)

    def subset(self, rows: list[int]) -> TargetTable:
        return TargetTable(self.outputs, [self.paths[r] for r in rows], self.values[rows])


def parse_csv(text: str, field_name: str, prefix: str = "") -> TargetTable:
    """`path,v1,...,vK` lines (blank and `#` lines skipped); a first line whose values are not
    all numbers is a header naming the outputs. Relative paths go under `prefix`."""
    rows = [
        (number, row)
        for number, row in enumerate(csv.reader(io.StringIO(text)), start=1)
        if row and any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#")
    ]
    if not rows:
        raise ParseError(field_name, "the file lists no images")
    outputs = None
    first = [cell.strip() for cell in rows[0][1][1:]]
    if first and not all(_number(cell) is not None for cell in first):
        outputs, rows = first, rows[1:]
    if not rows:
        raise ParseError(field_name, "the file lists no images, only a header")
    width = len(outputs) if outputs else len(rows[0][1]) - 1
    if not 1 <= width <= MAX_OUTPUTS:
        raise ParseError(
            field_name,
            f"line {rows[0][0]}: expected 'path,value,...' with 1 to {MAX_OUTPUTS} values",
        )
    paths, values = [], np.empty((len(rows), width), np.float32)
    for index, (number, row) in enumerate(rows):
        numbers = [_number(cell) for cell in row[1:]]
        if len(numbers) != width or any(n is None for n in numbers):
            # The line itself is not echoed: a server file read this way would leak its lines.
            raise ParseError(
                field_name, f"line {number}: expected a path and {width} finite numbers"
            )
        path = row[0].strip()
        if prefix and not os.path.isabs(path):
            path = os.path.join(prefix, path)
        paths.append(path)
        values[index] = numbers
    names = outputs or [f"y{i + 1}" for i in range(width)]
    if len(set(names)) != len(names):
        raise ParseError(field_name, "the header names an output twice")
    return TargetTable(names, paths, values)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def save_targets(folder: Path, split: str, values: np.ndarray) -> None:
    np.save(folder / targets_file(split), values.astype(np.float32))


def load_targets(folder: Path, split: str) -> np.ndarray | None:
    path = folder / targets_file(split)
    return np.load(path) if path.exists() else None


def output_statistics(values: np.ndarray, outputs: list[str]) -> list[dict]:
    """Per output: mean, std, min, max and a histogram, for the dataset page."""
    figures = []
    for index, name in enumerate(outputs):
        column = values[:, index].astype(np.float64) if len(values) else np.zeros(1)
        counts, edges = np.histogram(column, bins=HISTOGRAM_BINS)
        figures.append(
            {
                "name": name,
                "mean": float(column.mean()),
                "std": float(column.std()),
                "min": float(column.min()),
                "max": float(column.max()),
                "histogram": {"counts": counts.tolist(), "edges": edges.tolist()},
            }
        )
    return figures
