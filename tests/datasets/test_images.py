"""Pixel-exact checks of loading and DIGITS' four resize modes on small known images."""

import io

import numpy as np
import pytest
from PIL import Image

from digits.datasets.images import BadImage, load_image, resize_image


def rng():
    return np.random.default_rng(0)


def columns(width: int, height: int) -> Image.Image:
    """A grayscale image whose column x has value 10 * (x + 1)."""
    row = np.array([10 * (x + 1) for x in range(width)], dtype=np.uint8)
    return Image.fromarray(np.tile(row, (height, 1)), "L")


def test_crop_keeps_the_centre_of_the_long_side():
    out = resize_image(columns(4, 2), 2, 2, "crop", rng())
    assert out.tolist() == [[20, 30], [20, 30]]


def test_crop_of_a_tall_image_keeps_the_middle_rows():
    tall = Image.fromarray(np.arange(1, 7, dtype=np.uint8).repeat(2).reshape(6, 2), "L")
    assert resize_image(tall, 2, 2, "crop", rng()).tolist() == [[3, 3], [4, 4]]


def test_squash_stretches_to_the_exact_size():
    flat = Image.new("L", (7, 3), 99)
    out = resize_image(flat, 4, 5, "squash", rng())
    assert out.shape == (5, 4) and (out == 99).all()


def test_fill_pads_the_short_side_equally_with_noise():
    wide = Image.new("L", (4, 2), 200)  # scaled to fit 4x4: stays 4x2, 1 noise row each side
    out = resize_image(wide, 4, 4, "fill", rng())
    assert (out[1:3] == 200).all()
    noise = np.concatenate([out[0], out[3]])
    assert len(set(noise.tolist())) > 2  # noise, not a flat colour
    again = resize_image(wide, 4, 4, "fill", rng())
    assert (out == again).all()  # seeded: reproducible


def test_fill_keeps_the_padding_even():
    wide = Image.new("L", (6, 3), 200)  # fits 6x6 at 6x3: 3 rows of padding -> image made 6x4
    out = resize_image(wide, 6, 6, "fill", rng())
    image_rows = [i for i in range(6) if (out[i] == 200).all()]
    assert image_rows == [1, 2, 3, 4]


def test_half_crop_crops_the_long_side_and_pads_the_short_one():
    wide = Image.new("L", (8, 2), 150)  # ratios 2 and 0.5 -> scale by 1.25: 6x2 (+1 row: 6x2)
    out = resize_image(wide, 4, 4, "half_crop", rng())
    assert out.shape == (4, 4)
    rows_of_image = [i for i in range(4) if (out[i] == 150).all()]
    assert rows_of_image == [1, 2]


def test_color_images_keep_three_channels():
    image = Image.new("RGB", (5, 5), (10, 20, 30))
    out = resize_image(image, 3, 3, "squash", rng())
    assert out.shape == (3, 3, 3) and out[1, 1].tolist() == [10, 20, 30]


def save(image: Image.Image, fmt="PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_sixteen_bit_grayscale_is_scaled_to_eight_bits():
    pixels = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    data = save(Image.fromarray(pixels))
    assert np.array(load_image(data, 1)).tolist() == [[0, 100, 255]]


def test_palette_and_alpha_are_composited_on_white():
    rgba = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    rgba.putpixel((1, 0), (255, 0, 0, 255))
    assert np.array(load_image(save(rgba), 3)).tolist() == [[[255, 255, 255], [255, 0, 0]]]
    palette = Image.new("P", (2, 1))
    palette.putpalette([0, 0, 255] + [0, 255, 0] + [0] * 762)
    palette.putpixel((1, 0), 1)
    assert np.array(load_image(save(palette), 3)).tolist() == [[[0, 0, 255], [0, 255, 0]]]


def test_cmyk_becomes_rgb():
    cmyk = Image.new("CMYK", (1, 1), (0, 255, 255, 0))  # pure red in CMYK
    assert np.array(load_image(save(cmyk, "JPEG", quality=100), 3))[0, 0].tolist()[0] > 240


def test_exif_rotation_is_applied():
    image = columns(4, 2).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: viewers show it 2 wide, 4 tall
    upright = load_image(save(image, "JPEG", exif=exif, quality=100), 1)
    assert upright.size == (2, 4)


def test_gray_to_color_and_color_to_gray():
    gray = Image.new("L", (1, 1), 77)
    assert np.array(load_image(save(gray), 3))[0, 0].tolist() == [77, 77, 77]
    color = Image.new("RGB", (1, 1), (255, 0, 0))
    assert np.array(load_image(save(color), 1))[0, 0] == 76  # ITU-R 601-2 luma


def test_corrupt_and_truncated_files_are_bad_images():
    with pytest.raises(BadImage):
        load_image(b"not an image", 3)
    good = save(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")
    with pytest.raises(BadImage):
        load_image(good[: len(good) // 2], 3)


def test_a_large_jpeg_may_decode_smaller_but_never_below_the_size_asked():
    big = save(Image.new("RGB", (400, 300), (10, 200, 30)), "JPEG", quality=95)
    image = load_image(big, 3, at_least=64)
    assert min(image.size) >= 64 and image.size[0] < 400  # decoded at a reduced scale
    assert load_image(big, 3).size == (400, 300)
    assert np.array(image)[10, 10].tolist() == pytest.approx([10, 200, 30], abs=4)


def test_an_unreadable_file_is_refused_without_naming_its_path(tmp_path):
    secret = tmp_path / "server-side" / "request-7f3a"
    secret.parent.mkdir()
    secret.write_bytes(b"not an image at all")
    with pytest.raises(BadImage) as info:
        load_image(secret, 3)
    assert "format this server reads" in str(info.value) and "request-7f3a" not in str(info.value)


def test_pixels_beyond_the_limit_are_refused_before_decoding():
    buffer = io.BytesIO()
    Image.new("L", (300, 200)).save(buffer, "PNG")
    with pytest.raises(BadImage, match="300x200 is 0 megapixels, more than the 0.05 allowed"):
        load_image(buffer.getvalue(), 1, max_pixels=50_000)
    assert load_image(buffer.getvalue(), 1, max_pixels=60_000).size == (300, 200)
