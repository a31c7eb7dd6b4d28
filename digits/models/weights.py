"""Weights files from elsewhere: a state dict read without pickle, and how it fits a network."""

from __future__ import annotations

from pathlib import Path

import torch

MAX_LISTED = 8  # mismatched keys named in an error, of each kind


def load_weights(path: Path) -> dict:
    """A state dict from .safetensors or a torch file (tensors only, no pickle); a snapshot
    or checkpoint's `model` or `state_dict` entry is taken as the weights."""
    if path.name.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(str(path))
    weights = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(weights, dict):
        for key in ("model", "state_dict"):
            if isinstance(weights.get(key), dict):
                weights = weights[key]
    if not isinstance(weights, dict) or not all(
        isinstance(v, torch.Tensor) for v in weights.values()
    ):
        raise ValueError("the weights file does not hold a state dict (names to tensors)")
    return weights


def weight_mismatches(model, weights: dict) -> str | None:
    """What keeps `weights` from loading strictly into `model`, or None."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    shapes = [
        f"{k}: file {tuple(weights[k].shape)}, network {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and tuple(weights[k].shape) != tuple(v.shape)
    ]
    parts = [
        f"{label} ({len(items)}): {'; '.join(items[:MAX_LISTED])}"
        + ("; …" if len(items) > MAX_LISTED else "")
        for label, items in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shapes that differ", shapes),
        )
        if items
    ]
    return "the weights do not fit the network: " + " · ".join(parts) if parts else None


def load_into(model, weights: dict) -> None:
    """Load a snapshot's weights: strictly, or, for a snapshot of an earlier layout of the same
    network (ResNet and MobileNetV2 before they took torchvision's names: the same tensors in
    the same order under other names), by order."""
    try:
        model.load_state_dict(weights)
    except RuntimeError:
        expected = model.state_dict()
        shapes = [tuple(v.shape) for v in expected.values()]
        if shapes != [tuple(v.shape) for v in weights.values()]:
            raise
        model.load_state_dict(dict(zip(expected, weights.values(), strict=True)))
