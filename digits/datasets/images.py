"""Images in, training-ready pixels out: loading any common file, DIGITS' four resize modes.

One module, used when building a dataset and later when classifying, so the same file always
gives the same pixels.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Each choice and its title on the form (the form's list comes from here).
RESIZE_MODES = {
    "squash": "Squash",
    "crop": "Crop",
    "fill": "Fill",
    "half_crop": "Half crop, half fill",
}
# DIGITS' default, for a dataset's images and an imported model's (and so for every page).
DEFAULT_RESIZE_MODE = "squash"
FORMATS = ("PNG", "JPEG", "BMP", "PPM/PGM", "WebP", "TIFF")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".webp", ".tif", ".tiff")
WHITE = (255, 255, 255)


# Larger images are refused from their header, before decoding (DIGITS_MAX_IMAGE_PIXELS): a
# 280 kB PNG can declare 12000x12000 16-bit pixels, gigabytes once decoded. This replaces
# Pillow's own guard, which only warns below twice its limit.
DEFAULT_MAX_PIXELS = 90_000_000
# What one image may take decoded in a web request (See example), from its header: 128 MB is a
# 40-megapixel colour photo; a 16-bit 9000x9000 scan (154 MB) is not the web server's to decode.
WEB_MAX_DECODED_BYTES = 128 * 1024**2
# Bytes per pixel of Pillow's modes, decoded (others: 4).
MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "I;16": 2, "I;16B": 2, "I;16L": 2}
MODE_BYTES |= {"I;16N": 2, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3}
Image.MAX_IMAGE_PIXELS = None


class BadImage(ValueError):
    """A file that is not an image we can read (corrupt, truncated, another format, too big)."""


def load_image(
    source: str | Path | bytes,
    channels: int,
    at_least: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int | None = None,
) -> Image.Image:
    """Open an image as 8-bit grayscale (channels=1) or RGB (channels=3), upright.

    EXIF rotation is applied; transparency is composited on white; palette, CMYK and 16-bit
    images are converted to the 8-bit mode asked for. With `at_least`, a JPEG may be decoded
    at a reduced scale (1/2, 1/4, 1/8) that still has at least that many pixels each way:
    much faster when the image is about to be shrunk anyway. An image of more than
    `max_pixels` pixels, or of more than `max_bytes` decoded, is refused before it is decoded.
    """
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        width, height = image.size
        if width * height > max_pixels:
            megapixels = width * height / 1e6
            raise BadImage(
                f"{width}x{height} is {megapixels:.0f} megapixels, more than the "
                f"{max_pixels / 1e6:g} allowed (DIGITS_MAX_IMAGE_PIXELS)"
            )
        decoded = width * height * MODE_BYTES.get(image.mode, 4)
        if max_bytes is not None and decoded > max_bytes:
            raise BadImage(
                f"{width}x{height} ({image.mode}) is {decoded / 1024**2:.0f} MB decoded, more "
                f"than the {max_bytes / 1024**2:.0f} MB this request may use"
            )
        if at_least and image.format == "JPEG":
            image.draft(image.mode, (at_least, at_least))
        image.load()  # decode now, so a truncated file fails here and not later
        image = ImageOps.exif_transpose(image)
        image = _to_8_bit(image)
    except BadImage:
        raise
    except UnidentifiedImageError:
        # Pillow's message names the file: a server path the user should not see.
        raise BadImage(
            f"not an image in a format this server reads ({', '.join(FORMATS)})"
        ) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadImage(str(exc) or type(exc).__name__) from exc
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = _on_white(image)
    return image.convert("L" if channels == 1 else "RGB")


def _to_8_bit(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        pixels = np.asarray(image)
        if pixels.max(initial=0) > 65535:  # 32 bits
            scaled = np.rint(pixels / 16843009.0)
            return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")
        # rint(p / 257) in whole numbers: 4 bytes a pixel instead of float64's 8 and a copy.
        wide = np.clip(pixels, 0, 65535).astype(np.uint32)
        wide *= 255
        wide += 32767
        wide //= 65535
        return Image.fromarray(wide.astype(np.uint8), "L")
    if image.mode == "F":
        return Image.fromarray(np.clip(np.rint(np.asarray(image)), 0, 255).astype(np.uint8), "L")
    if image.mode == "1":
        return image.convert("L")
    if image.mode == "CMYK":
        return image.convert("RGB")
    return image


def _on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, WHITE + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")


def resize_image(
    image: Image.Image, width: int, height: int, mode: str, rng: np.random.Generator
) -> np.ndarray:
    """Resize to width x height with one of DIGITS' modes; an HxW (gray) or HxWx3 uint8 array.

    squash stretches; crop scales to cover, then centre-crops; fill scales to fit inside and
    pads the short side with noise; half_crop scales by the mean of both ratios, crops the long
    side and pads the short one. `rng` makes the noise reproducible.
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode {mode!r}")
    if mode == "squash" or image.size == (width, height):
        return _pixels(_scaled(image, width, height))
    width_ratio = image.width / width
    height_ratio = image.height / height
    wide = width_ratio > height_ratio  # relatively wider than the target
    if mode == "crop":
        if wide:
            size = (round(image.width / height_ratio), height)
        else:
            size = (width, round(image.height / width_ratio))
        return _centre_crop(_pixels(_scaled(image, *size)), width, height)
    if mode == "fill":
        # The padded side gets an even margin, so the noise is equal on both ends (as DIGITS).
        if wide:
            new_height = round(image.height / width_ratio)
            size = (width, new_height + (height - new_height) % 2)
        else:
            new_width = round(image.width / height_ratio)
            size = (new_width + (width - new_width) % 2, height)
        return _pad_with_noise(_pixels(_scaled(image, *size)), width, height, rng)
    # half_crop
    ratio = (width_ratio + height_ratio) / 2.0
    new_width, new_height = round(image.width / ratio), round(image.height / ratio)
    if wide and (height - new_height) % 2:
        new_height += 1
    elif not wide and (width - new_width) % 2:
        new_width += 1
    pixels = _centre_crop(_pixels(_scaled(image, new_width, new_height)), width, height)
    return _pad_with_noise(pixels, width, height, rng)


def _scaled(image: Image.Image, width: int, height: int) -> Image.Image:
    if image.size == (width, height):
        return image
    return image.resize((max(1, width), max(1, height)), Image.Resampling.BILINEAR)


def _pixels(image: Image.Image) -> np.ndarray:
    return np.array(image, dtype=np.uint8)  # a writable copy


def _centre_crop(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    top = max(0, round((pixels.shape[0] - height) / 2.0))
    left = max(0, round((pixels.shape[1] - width) / 2.0))
    return pixels[top : top + height, left : left + width]


def _pad_with_noise(
    pixels: np.ndarray, width: int, height: int, rng: np.random.Generator
) -> np.ndarray:
    pad_rows, pad_cols = height - pixels.shape[0], width - pixels.shape[1]
    if pad_rows <= 0 and pad_cols <= 0:
        return pixels
    out = rng.integers(0, 256, size=(height, width) + pixels.shape[2:], dtype=np.uint8)
    top, left = max(0, pad_rows) // 2, max(0, pad_cols) // 2
    out[top : top + pixels.shape[0], left : left + pixels.shape[1]] = pixels
    return out


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def encode_jpeg(pixels: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def decode(data: bytes, channels: int) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    mode = "L" if channels == 1 else "RGB"
    return _pixels(image if image.mode == mode else image.convert(mode))
