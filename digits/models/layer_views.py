"""Inside a network for one image: each layer's weights and activations as tiled pictures with
their statistics (DIGITS' "Show visualizations and statistics"), and a Grad-CAM saliency map."""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

MAX_TILES = 64  # filters or feature maps shown per layer
MIN_TILE = 24  # pixels: small maps are enlarged (nearest) to at least this
MAX_SIDE = 512  # pixels: the largest picture sent for a layer
HISTOGRAM_BINS = 30


def png_data_uri(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def statistics(values: torch.Tensor) -> dict[str, Any]:
    """Mean, standard deviation, min, max and a histogram of a tensor's values."""
    flat = values.detach().float().flatten().cpu().numpy()
    counts, edges = np.histogram(flat, bins=HISTOGRAM_BINS)
    return {
        "mean": float(flat.mean()),
        "std": float(flat.std()),
        "min": float(flat.min()),
        "max": float(flat.max()),
        "histogram": {"counts": counts.tolist(), "edges": [float(e) for e in edges]},
    }


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Scale to 0..255 over the whole array (one scale per layer, so maps compare)."""
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return (scaled * 255).astype(np.uint8)


def tile(maps: np.ndarray) -> np.ndarray:
    """N x h x w (gray) or N x h x w x 3 uint8 maps on a near-square grid, 1-pixel gaps."""
    n, h, w = maps.shape[:3]
    zoom = max(1, math.ceil(MIN_TILE / max(h, w)))
    if zoom > 1:
        maps = maps.repeat(zoom, axis=1).repeat(zoom, axis=2)
        h, w = h * zoom, w * zoom
    columns = math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1, *maps.shape[3:]), 255, np.uint8)
    for i in range(n):
        top, left = (i // columns) * (h + 1), (i % columns) * (w + 1)
        grid[top : top + h, left : left + w] = maps[i]
    return _fit(grid)


def _fit(pixels: np.ndarray) -> np.ndarray:
    if max(pixels.shape[:2]) <= MAX_SIDE:
        return pixels
    image = Image.fromarray(pixels)
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(image)


def weights_picture(weight: torch.Tensor) -> np.ndarray:
    """Conv filters tiled (in colour when they read 3 channels); other weights as a matrix."""
    values = weight.detach().float().cpu()
    if values.dim() == 4:
        filters = values[:MAX_TILES]
        if filters.shape[1] == 3:
            return tile(to_uint8(filters.permute(0, 2, 3, 1).numpy()))
        return tile(to_uint8(filters.mean(dim=1).numpy()))
    matrix = values.reshape(values.shape[0], -1) if values.dim() > 1 else values[None]
    return _fit(to_uint8(matrix.numpy()))


def activations_picture(output: torch.Tensor) -> np.ndarray:
    """Feature maps tiled; a flat output as a near-square grid of its values."""
    values = output.detach().float()[0].cpu()
    if values.dim() == 3:
        return tile(to_uint8(values[:MAX_TILES].numpy()))
    flat = values.flatten().numpy()
    side = math.ceil(math.sqrt(flat.size))
    padded = np.full(side * side, flat.min() if flat.size else 0.0, np.float32)
    padded[: flat.size] = flat
    return tile(to_uint8(padded.reshape(1, side, side)))


def leaf_layers(network: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in network.named_modules() if name and not list(m.children())]


def layer_visualizations(network: nn.Module, network_input: torch.Tensor) -> list[dict]:
    """For every leaf layer: kind, parameters, weights (if any) and activations for the input."""
    outputs: dict[str, torch.Tensor] = {}
    hooks = [
        module.register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, out))
        for name, module in leaf_layers(network)
    ]
    try:
        with torch.inference_mode():
            network(network_input)
    finally:
        for hook in hooks:
            hook.remove()
    layers = []
    for name, module in leaf_layers(network):
        weight = getattr(module, "weight", None)
        entry: dict[str, Any] = {
            "name": name,
            "kind": type(module).__name__,
            "parameters": sum(p.numel() for p in module.parameters()),
        }
        if isinstance(weight, torch.Tensor) and weight.dim() >= 1:
            entry["weights"] = {
                "image": png_data_uri(weights_picture(weight)),
                **statistics(weight),
            }
        output = outputs.get(name)
        if isinstance(output, torch.Tensor):
            picture = png_data_uri(activations_picture(output))
            entry["activations"] = {
                "image": picture,
                "shape": list(output.shape[1:]),
                **statistics(output),
            }
        layers.append(entry)
    return layers


def grad_cam(network: nn.Module, network_input: torch.Tensor, target: int) -> np.ndarray | None:
    """Grad-CAM on the last convolution: where the network looked for class `target`.

    An H x W map in 0..1 at the input's size, or None for a network with no convolution.
    """
    convs = [m for _, m in leaf_layers(network) if isinstance(m, nn.Conv2d)]
    if not convs:
        return None
    saved: dict[str, torch.Tensor] = {}

    def keep(_module, _inputs, output):
        saved["activation"] = output
        output.register_hook(lambda grad: saved.__setitem__("gradient", grad))

    hook = convs[-1].register_forward_hook(keep)
    try:
        with torch.enable_grad():
            scores = network(network_input.detach().requires_grad_(True))
            scores[0, target].backward()
    finally:
        hook.remove()
        network.zero_grad(set_to_none=True)
    activation, gradient = saved["activation"].detach()[0], saved["gradient"][0]
    weights = gradient.mean(dim=(1, 2), keepdim=True)
    cam = torch.relu((weights * activation).sum(dim=0))[None, None]
    cam = torch.nn.functional.interpolate(
        cam, size=network_input.shape[-2:], mode="bilinear", align_corners=False
    )[0, 0]
    high = float(cam.max())
    cam = cam.cpu()
    return (cam / high).numpy() if high > 0 else cam.numpy()


def overlay(pixels: np.ndarray, heat: np.ndarray, strength: float = 0.5) -> np.ndarray:
    """The image (H x W or H x W x 3 uint8) with the heat map (0..1) laid over in warm colours."""
    rgb = np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels
    # Black -> red -> yellow -> white: how warm says how much the network looked there.
    colour = (
        np.stack(
            [np.clip(heat * 3, 0, 1), np.clip(heat * 3 - 1, 0, 1), np.clip(heat * 3 - 2, 0, 1)],
            axis=-1,
        )
        * 255
    )
    mixed = rgb.astype(np.float32) * (1 - strength * heat[..., None]) + colour * (
        strength * heat[..., None]
    )
    return np.clip(mixed, 0, 255).astype(np.uint8)
