import numpy as np
import torch

from digits.models.preprocessing import Preprocessing


def batch(value=100, size=4):
    return torch.full((2, 3, size, size), value, dtype=torch.uint8)


def test_image_and_pixel_mean_subtraction():
    mean = np.zeros((4, 4, 3), dtype=np.float32)
    mean[0, 0] = 40.0
    image = Preprocessing("image", mean)(batch())
    assert image[0, 0, 0, 0] == (100 - 40) / 255 and image[0, 0, 1, 1] == 100 / 255
    pixel = Preprocessing("pixel", mean)(batch())
    assert torch.allclose(pixel, torch.full_like(pixel, (100 - 40 / 16) / 255))
    assert torch.allclose(Preprocessing("none", mean)(batch()), torch.full((2, 3, 4, 4), 100 / 255))


def test_validation_crops_the_centre():
    x = torch.arange(36, dtype=torch.uint8).reshape(1, 1, 6, 6)
    out = Preprocessing("none", None, crop_size=2)(x) * 255
    assert out.round().squeeze().tolist() == [[14, 15], [20, 21]]


def test_training_crops_and_flips_vary_but_stay_in_shape():
    x = torch.arange(36 * 8, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(8, 1, 6, 6)
    prep = Preprocessing("none", None, crop_size=4, flip="fliplr")
    generator = torch.Generator().manual_seed(0)
    outs = [prep(x, True, generator) for _ in range(5)]
    assert all(o.shape == (8, 1, 4, 4) for o in outs)
    assert len({tuple(o.flatten().tolist()) for o in outs}) > 1
    assert torch.equal(prep(x), prep(x))  # validation is deterministic
