"""A regression model at work: Infer One's answer (its values, by output name) and what Infer
Many collects (each image's values; with known values, the error per output)."""

from __future__ import annotations

from typing import Any

import numpy as np

from digits.datasets import targets
from digits.datasets.parsing import ParseError
from digits.models import inference
from digits.models.classify import inside_the_network
from digits.models.classify_many import (
    Item,
    has_list,
    list_item,
    paths_in_roots,
    read_list,
    read_upload,
)
from digits.models.layout import CLASSIFY_LIST_FILE


def answer_one(model: inference.LoadedModel, pixels: np.ndarray, values, payload) -> dict:
    """DIGITS' {"outputs": {"output": [[v1, v2, ...]]}}, and ours (each value by its output's
    name)."""
    names = model.info.labels
    answer: dict[str, Any] = {
        "outputs": {"output": [values.tolist()]},
        "values": [[name, float(v)] for name, v in zip(names, values, strict=True)],
    }
    if payload.get("visualizations"):  # where the network looked for its first output
        answer |= inside_the_network(model, pixels, 0)
    return answer


def read_items(ctx, outputs: list[str], folder_text: str) -> tuple[list[Item], list[dict]]:
    """A CSV of `path,v1,...` with known values (as the dataset's, header optional), a path a
    line, or an archive of images."""
    if has_list(ctx):
        return _read_values_list(ctx, outputs, folder_text)
    return read_upload(ctx, []), []


def _read_values_list(ctx, outputs: list[str], folder_text: str):
    """A CSV of `path,v1,...` with the known values (as its dataset's,
    header optional), or a path a line; the images that may be read, and the lines' errors."""
    text = (ctx.folder / CLASSIFY_LIST_FILE).read_text(errors="replace")
    try:
        table = targets.parse_csv(text, "image_list")
    except ParseError:
        table = None
    if table is None or table.values.shape[1] != len(outputs):
        return read_list(ctx, [], folder_text)
    paths = paths_in_roots(ctx)
    items, errors = [], []
    for number, (path, values) in enumerate(zip(table.paths, table.values, strict=True), 1):
        item = list_item(paths, path, folder_text, None, number, errors)
        if item:
            item.target = values.tolist()
            items.append(item)
    return items, errors


class Tally:
    """A generic model's answers, image by image; with known values, its error per output."""

    def __init__(self, model: inference.LoadedModel, options, max_pixels: int):
        self.model = model
        self.outputs = outputs = model.info.labels
        self.rows: list[dict[str, Any]] = []
        self.absolute = np.zeros(len(outputs))
        self.squared = np.zeros(len(outputs))
        self.known = 0

    def add(self, item: Item, values: np.ndarray) -> None:
        self.rows.append({"path": item.shown, "output": values.tolist(), "target": item.target})
        if item.target is not None:
            error = values.astype(np.float64) - np.asarray(item.target)
            self.absolute += np.abs(error)
            self.squared += error**2
            self.known += 1

    def summary(self) -> dict[str, Any]:
        model = self.model
        return {
            "outputs": self.outputs,
            "epoch": model.info.epoch,
            "classified": len(self.rows),
            "rows": self.rows,
            "target_errors": {
                "count": self.known,
                "mae": dict(zip(self.outputs, (self.absolute / self.known).tolist(), strict=True)),
                "mse": dict(zip(self.outputs, (self.squared / self.known).tolist(), strict=True)),
            }
            if self.known
            else None,
        }
