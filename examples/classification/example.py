#!/usr/bin/env python3
"""Classify images with a DIGITS model's weights and network source, as the server would.

    python example.py WEIGHTS NETWORK IMAGE... -l labels.txt -m mean.npy [-i info.json]

WEIGHTS is the archive's weights.pt (a state_dict), NETWORK its network.py (defining
`network(num_classes, channels, height, width)`). info.json (by default the one beside
WEIGHTS) gives the image size, resize mode, crop and mean mode. Needs numpy, Pillow and torch,
and this DIGITS checkout for its image and preprocessing code (see shared.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from shared import load_module, prepare, print_answers


def build_network(source: Path, num_classes: int, info: dict) -> torch.nn.Module:
    namespace: dict = {"__name__": "network"}
    exec(compile(source.read_text(), str(source), "exec"), namespace)
    size = info.get("crop_size")
    height, width = (size, size) if size else (info["height"], info["width"])
    return namespace["network"](num_classes, info["channels"], height, width)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", type=Path, help="weights.pt from the archive")
    parser.add_argument("network", type=Path, help="network.py from the archive")
    parser.add_argument("images", nargs="+", help="image files to classify")
    parser.add_argument("-l", "--labels", type=Path, required=True, help="labels.txt")
    parser.add_argument("-m", "--mean", type=Path, help="mean.npy (omit for no mean)")
    parser.add_argument("-i", "--info", type=Path, help="info.json (default: beside WEIGHTS)")
    args = parser.parse_args()
    info = json.loads((args.info or args.weights.with_name("info.json")).read_text())
    labels = args.labels.read_text().splitlines()

    preprocessing = load_module("digits/models/preprocessing.py")
    mean = np.load(args.mean) if args.mean else None
    transform = preprocessing.InputTransform(
        preprocessing.mean_tensor(info["mean_mode"], mean),
        info.get("crop_size"),
        (info["normalize_mean"], info["normalize_std"]) if info.get("normalize_mean") else None,
        info.get("network_channels"),
        info.get("network_size"),
    )
    network = build_network(args.network, len(labels), info)
    network.load_state_dict(torch.load(args.weights, map_location="cpu", weights_only=True))
    batch = torch.from_numpy(prepare(args.images, info))
    with torch.no_grad():
        outputs = network.eval()(transform(batch))
    if info.get("task") != "regression":  # a generic model's outputs are its values
        outputs = torch.softmax(outputs, dim=1)
    print_answers(args.images, outputs.numpy(), labels, info)


if __name__ == "__main__":
    main()
