"""Synthetic image sets for the tests, as DIGITS made them: small gradients per class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLORS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "gray": (128, 128, 128)}


def gradient(color, width: int, height: int, shift: int = 0) -> Image.Image:
    ramp = np.linspace(0.3, 1.0, width)[None, :, None] * np.ones((height, 1, 1))
    pixels = np.clip(ramp * np.array(color)[None, None, :] + shift, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def make_class_folders(
    root: Path, classes=("red", "green", "blue"), per_class: int = 10, size=(12, 10), suffix=".png"
) -> Path:
    """root/<class>/<n>.png, each a gradient of the class's colour."""
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            gradient(COLORS[name], *size, shift=n).save(folder / f"{n:03d}{suffix}")
    return root


def add_odd_files(folder: Path) -> dict[str, str]:
    """Wide, tall, grayscale, alpha and corrupt files in one class folder; name -> kind."""
    gradient(COLORS["red"], 40, 8).save(folder / "wide.png")
    gradient(COLORS["red"], 6, 30).save(folder / "tall.jpg")
    gradient(COLORS["red"], 12, 10).convert("L").save(folder / "gray.png")
    rgba = gradient(COLORS["red"], 12, 10).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(folder / "alpha.png")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    good = (folder / "wide.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    (folder / "notes.txt").write_text("not an image, not even listed")
    return {"corrupt.png": "corrupt", "truncated.png": "truncated"}


def make_value_images(root: Path, count: int = 60, size: int = 16) -> str:
    """Gray images whose brightness is the value to learn: root/img_<n>.png, and the CSV
    (`path,brightness,darkness` under a header, paths relative to root) as text."""
    root.mkdir(parents=True, exist_ok=True)
    lines = ["path,brightness,darkness"]
    for n in range(count):
        level = round(20 + 215 * n / max(1, count - 1))
        pixels = np.full((size, size), level, np.uint8)
        Image.fromarray(pixels, "L").save(root / f"img_{n:03d}.png")
        value = level / 255
        lines.append(f"img_{n:03d}.png,{value:.4f},{1 - value:.4f}")
    return "\n".join(lines) + "\n"
