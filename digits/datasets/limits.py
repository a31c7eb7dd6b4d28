"""How big a dataset would be, known before it is built: a submission that would outgrow the
configured limit (DIGITS_MAX_DATASET_MB) or the free disk is refused where it was made."""

from __future__ import annotations

import shutil
from pathlib import Path

from digits.datasets.options import DatasetOptions

# Stored bytes per pixel value, roughly: raw records hold every value; PNG and JPEG compress
# photographs to about a half and a seventh (an estimate: the limit is a guard, not a quota).
BYTES_PER_VALUE = {"none": 1.0, "png": 0.5, "jpg": 0.15}


def expected_bytes(images: int, width: int, height: int, channels: int, encoding: str) -> int:
    return int(images * width * height * channels * BYTES_PER_VALUE.get(encoding, 1.0))


def size_refusal(images: int, options: DatasetOptions, max_mb: int, folder: Path) -> str | None:
    """Why a dataset of `images` images, stored as `options` say, is too big to build in
    `folder`, or None."""
    shape = (options.width, options.height, options.channels)
    size = expected_bytes(images, *shape, options.encoding)
    what = (
        f"about {size / 1024**2:,.0f} MB ({images} images of {'x'.join(map(str, shape))}, "
        f"encoding {options.encoding})"
    )
    if size > max_mb * 1024**2:
        return f"{what} is more than this server's limit of {max_mb:,} MB (DIGITS_MAX_DATASET_MB)"
    free = shutil.disk_usage(folder).free
    if size > free:
        return f"{what} is more than the {free / 1024**2:,.0f} MB free on the server's disk"
    return None
