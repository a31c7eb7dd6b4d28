#!/usr/bin/env python3
"""Classify images with a model downloaded from DIGITS, as the server would (a generic
model: the values of its outputs).

    python use_archive.py MODEL_ARCHIVE IMAGE... [--onnx]

The archive (.tar.gz, .tar or .zip) holds a TorchScript and an ONNX export of the classifier,
with the mean subtraction and crop inside. Needs numpy, Pillow and torch (or onnxruntime with
--onnx), and this DIGITS checkout for its image code (see shared.py).
"""

from __future__ import annotations

import argparse
import json
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from shared import prepare, print_answers


def extract(archive: Path, into: Path) -> Path:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            z.extractall(into)
    else:
        with tarfile.open(archive) as t:
            t.extractall(into, filter="data")
    return into


def classify(folder: Path, batch: np.ndarray, use_onnx: bool, output: str) -> np.ndarray:
    if use_onnx:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
        return session.run([output], {"images": batch})[0]
    import torch

    model = torch.jit.load(str(folder / "model.torchscript.pt"), map_location="cpu")
    with torch.no_grad():
        return model(torch.from_numpy(batch)).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", type=Path, help="the model downloaded from DIGITS")
    parser.add_argument("images", nargs="+", help="image files to classify")
    parser.add_argument("--onnx", action="store_true", help="run the ONNX model (onnxruntime)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = extract(args.archive, Path(tmp))
        info = json.loads((folder / "info.json").read_text())
        output = info.get("output", {}).get("name", "probabilities")
        answers = classify(folder, prepare(args.images, info), args.onnx, output)
    print_answers(args.images, answers, info["labels"], info)


if __name__ == "__main__":
    main()
