"""What both example scripts share: DIGITS' own image code, loaded by path, and the output.

The scripts need only numpy and Pillow (and torch, or onnxruntime), never the `digits` package:
the image loading and resizing come from this checkout's `digits/datasets/images.py`, the same
file the server builds datasets and classifies with, loaded here as a plain module (it imports
nothing of `digits`). So an image gives the same pixels here as on the server.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

CHECKOUT = Path(__file__).resolve().parents[2]
TOP = 5


def load_module(relative: str):
    """A module of this DIGITS checkout, by its path (e.g. 'digits/datasets/images.py')."""
    path = CHECKOUT / relative
    if not path.exists():
        sys.exit(f"{path} is missing: run this script from a DIGITS checkout")
    spec = importlib.util.spec_from_file_location(path.stem + "_from_digits", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def prepare(paths: list[str], info: dict) -> np.ndarray:
    """Image files as the model's dataset stored its images: uint8, N x C x H x W."""
    images = load_module("digits/datasets/images.py")
    batch = []
    for path in paths:
        image = images.load_image(
            path, info["channels"], at_least=max(info["width"], info["height"])
        )
        rng = np.random.default_rng(info.get("noise_seed", 0))
        pixels = images.resize_image(image, info["width"], info["height"], info["resize_mode"], rng)
        batch.append(pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(batch))


def print_predictions(paths: list[str], probabilities: np.ndarray, labels: list[str]) -> None:
    """DIGITS' format: a header per image, then the top five, best first."""
    for path, row in zip(paths, probabilities, strict=True):
        print(f"--- Prediction for {path} ---")
        for index in np.argsort(-row, kind="stable")[:TOP]:
            print(f'{100 * float(row[index]):8.4f}% - "{labels[index]}"')
        print()


def print_answers(paths: list[str], rows: np.ndarray, labels: list[str], info: dict) -> None:
    """A classifier's top five (DIGITS' format), or a generic model's values by output."""
    if info.get("task") != "regression":
        print_predictions(paths, rows, labels)
        return
    for path, row in zip(paths, rows, strict=True):
        print(f"--- Prediction for {path} ---")
        for name, value in zip(labels, row, strict=True):
            print(f'{float(value):.6f} - "{name}"')
        print()
