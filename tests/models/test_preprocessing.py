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


def test_each_augmentation_varies_training_batches_and_keeps_their_shape():
    x = torch.arange(2 * 8 * 8, dtype=torch.int64).remainder(256).to(torch.uint8)
    x = x.reshape(2, 1, 8, 8).repeat(4, 1, 1, 1)
    for options in (
        {"quad_rotation": "rotall"},
        {"rotation": 30.0},
        {"scale": 0.3},
        {"noise": 0.05},
    ):
        prep = Preprocessing("none", None, **options)
        generator = torch.Generator().manual_seed(1)
        outs = [prep(x, True, generator) for _ in range(3)]
        assert all(o.shape == (8, 1, 8, 8) for o in outs), options
        assert not torch.equal(outs[0], outs[1]), options
        assert torch.equal(prep(x), Preprocessing("none", None)(x)), options  # not in validation


def test_quarter_turns_only_turn_square_images_by_half_turns_otherwise():
    x = torch.arange(12, dtype=torch.uint8).reshape(1, 1, 3, 4).repeat(16, 1, 1, 1)
    out = Preprocessing("none", None, quad_rotation="rotall")(
        x, True, torch.Generator().manual_seed(0)
    )
    assert out.shape == x.shape
    as_is, half = x[0, 0].float() / 255, torch.rot90(x[0, 0], 2).float() / 255
    assert all(torch.equal(o[0], as_is) or torch.equal(o[0], half) for o in out)


def test_hsv_round_trip_and_jitter():
    from digits.models.preprocessing import hsv_to_rgb, jitter_hsv, rgb_to_hsv

    rgb = torch.rand(4, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(rgb)), rgb, atol=1e-5)
    pure_red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert torch.allclose(rgb_to_hsv(pure_red).flatten(), torch.tensor([0.0, 1.0, 1.0]))
    x = rgb * 255
    generator = torch.Generator().manual_seed(1)
    assert torch.allclose(jitter_hsv(x, (0.0, 0.0, 0.0), generator), x, atol=1e-3)
    shifted = jitter_hsv(x, (0.1, 0.1, 0.1), generator)
    assert shifted.shape == x.shape and not torch.allclose(shifted, x, atol=1.0)
    assert shifted.min() >= 0 and shifted.max() <= 255.0001
    prep = Preprocessing("none", None, hsv=(0.05, 0.05, 0.05))
    assert torch.equal(prep(x.to(torch.uint8)), Preprocessing("none", None)(x.to(torch.uint8)))
