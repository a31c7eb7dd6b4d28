"""Published weights for the standard networks that have torchvision's module names: its
ImageNet files (1,000 classes), taken from the weights folder (dropped in by hand on a machine
without internet) or downloaded there once, their published hash checked. Never at import time:
only a training that asks for them (`pretrained_weights=imagenet`) loads them.

This module's names are torch-free (the web server checks the form with them).
"""

from __future__ import annotations

import re
import urllib.error
from pathlib import Path

IMAGENET = "imagenet"
IMAGENET_CLASSES = 1000
# ImageNet's per-channel mean and standard deviation on 0..1: the input these weights expect.
IMAGENET_NORMALIZATION = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# torchvision's files (IMAGENET1K_V1); the hex after the dash starts the file's SHA-256.
IMAGENET_FILES = {
    "resnet18": "resnet18-f37072fd.pth",
    "resnet50": "resnet50-0676ba61.pth",
    "mobilenet_v2": "mobilenet_v2-b0353104.pth",
    "convnext_tiny": "convnext_tiny-983f1562.pth",
}
HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")


class WeightsUnavailable(Exception):
    """Published weights that could not be had: the message says how to provide them."""


def imagenet_weights(settings, network: str) -> dict:
    """The ImageNet state dict of `network`, from the weights folder (downloaded there first
    if need be)."""
    import torch

    name = IMAGENET_FILES[network]
    path = settings.weights_folder / name
    if not path.exists():
        download(settings.weights_url.rstrip("/") + "/" + name, path)
    return torch.load(path, map_location="cpu", weights_only=True)


def download(url: str, path: Path) -> None:
    """`url` into `path`, only if its SHA-256 starts with the hex in the file's name."""
    from torch.hub import download_url_to_file

    path.parent.mkdir(parents=True, exist_ok=True)
    expected = HASH_IN_NAME.search(path.name).group(1)
    try:
        download_url_to_file(url, str(path), hash_prefix=expected, progress=False)
    except RuntimeError as exc:  # torch.hub's word for a hash that does not match
        raise WeightsUnavailable(
            f"{url} does not match the published hash of {path.name} ({exc}); nothing was kept"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise WeightsUnavailable(
            f"cannot download {url} ({exc}): put {path.name} in {path.parent} by hand "
            "(DIGITS_WEIGHTS_DIR)"
        ) from None
