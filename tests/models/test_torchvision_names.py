"""The networks that torchvision publishes ImageNet weights for have its module names and shapes,
so those files load unchanged. The expected keys are built here by torchvision's own rules (its
resnet.py, mobilenetv2.py and convnext.py), and the totals are the parameter counts its weights'
metadata publishes."""

import pytest
import torch

from digits.models import networks

# torchvision's `num_params` for these architectures (1,000 ImageNet classes).
PUBLISHED_PARAMETERS = {
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "mobilenet_v2": 3_504_872,
    "convnext_tiny": 28_589_128,
}


def batch_norm(prefix: str, channels: int) -> dict:
    shapes = {
        f"{prefix}.{k}": (channels,) for k in ("weight", "bias", "running_mean", "running_var")
    }
    return shapes | {f"{prefix}.num_batches_tracked": ()}


def resnet(block: str, depths) -> dict:
    """torchvision's ResNet: conv1/bn1, layer1-4 of BasicBlock or Bottleneck, fc."""
    keys = {"conv1.weight": (64, 3, 7, 7)} | batch_norm("bn1", 64)
    expansion = 4 if block == "bottleneck" else 1
    cin = 64
    for stage, (width, depth) in enumerate(zip((64, 128, 256, 512), depths, strict=True)):
        for index in range(depth):
            p = f"layer{stage + 1}.{index}"
            stride = 2 if stage and not index else 1
            cout = width * expansion
            if block == "basic":
                keys |= {f"{p}.conv1.weight": (width, cin, 3, 3)} | batch_norm(f"{p}.bn1", width)
                keys |= {f"{p}.conv2.weight": (width, width, 3, 3)} | batch_norm(f"{p}.bn2", width)
            else:
                keys |= {f"{p}.conv1.weight": (width, cin, 1, 1)} | batch_norm(f"{p}.bn1", width)
                keys |= {f"{p}.conv2.weight": (width, width, 3, 3)} | batch_norm(f"{p}.bn2", width)
                keys |= {f"{p}.conv3.weight": (cout, width, 1, 1)} | batch_norm(f"{p}.bn3", cout)
            if stride != 1 or cin != cout:
                keys |= {f"{p}.downsample.0.weight": (cout, cin, 1, 1)}
                keys |= batch_norm(f"{p}.downsample.1", cout)
            cin = cout
    return keys | {"fc.weight": (1000, cin), "fc.bias": (1000,)}


def mobilenet_v2() -> dict:
    """torchvision's MobileNetV2: features.0 ConvNormActivation, 17 InvertedResiduals (no
    expansion conv where t == 1), features.18, classifier.1."""
    keys = {"features.0.0.weight": (32, 3, 3, 3)} | batch_norm("features.0.1", 32)
    settings = [
        (1, 16, 1),
        (6, 24, 2),
        (6, 32, 3),
        (6, 64, 4),
        (6, 96, 3),
        (6, 160, 3),
        (6, 320, 1),
    ]
    cin, index = 32, 1
    for t, c, n in settings:
        for _ in range(n):
            p, hidden, layer = f"features.{index}.conv", cin * t, 0
            if t != 1:
                keys |= {f"{p}.0.0.weight": (hidden, cin, 1, 1)} | batch_norm(f"{p}.0.1", hidden)
                layer = 1
            keys |= {f"{p}.{layer}.0.weight": (hidden, 1, 3, 3)}
            keys |= batch_norm(f"{p}.{layer}.1", hidden)
            keys |= {f"{p}.{layer + 1}.weight": (c, hidden, 1, 1)}
            keys |= batch_norm(f"{p}.{layer + 2}", c)
            cin, index = c, index + 1
    keys |= {"features.18.0.weight": (1280, 320, 1, 1)} | batch_norm("features.18.1", 1280)
    return keys | {"classifier.1.weight": (1000, 1280), "classifier.1.bias": (1000,)}


def convnext_tiny() -> dict:
    """torchvision's ConvNeXt-Tiny: stem, stages of CNBlocks between downsamplings, classifier."""
    keys = {"features.0.0.weight": (96, 3, 4, 4), "features.0.0.bias": (96,)}
    keys |= {"features.0.1.weight": (96,), "features.0.1.bias": (96,)}
    stages, index = [(96, 3), (192, 3), (384, 9), (768, 3)], 1
    for number, (dim, depth) in enumerate(stages):
        for block in range(depth):
            p = f"features.{index}.{block}"
            keys |= {f"{p}.layer_scale": (dim, 1, 1), f"{p}.block.0.weight": (dim, 1, 7, 7)}
            keys |= {f"{p}.block.0.bias": (dim,), f"{p}.block.2.weight": (dim,)}
            keys |= {f"{p}.block.2.bias": (dim,), f"{p}.block.3.weight": (4 * dim, dim)}
            keys |= {f"{p}.block.3.bias": (4 * dim,), f"{p}.block.5.weight": (dim, 4 * dim)}
            keys |= {f"{p}.block.5.bias": (dim,)}
        index += 1
        if number < 3:
            after = stages[number + 1][0]
            keys |= {f"features.{index}.0.weight": (dim,), f"features.{index}.0.bias": (dim,)}
            keys |= {f"features.{index}.1.weight": (after, dim, 2, 2)}
            keys |= {f"features.{index}.1.bias": (after,)}
            index += 1
    keys |= {"classifier.0.weight": (768,), "classifier.0.bias": (768,)}
    return keys | {"classifier.2.weight": (1000, 768), "classifier.2.bias": (1000,)}


TORCHVISION = {
    "resnet18": lambda: resnet("basic", (2, 2, 2, 2)),
    "resnet50": lambda: resnet("bottleneck", (3, 4, 6, 3)),
    "mobilenet_v2": mobilenet_v2,
    "convnext_tiny": convnext_tiny,
}


@pytest.mark.parametrize("name", TORCHVISION)
def test_every_key_and_shape_is_torchvisions(name):
    ours = networks.create(name, 1000, 3, 224, 224)
    shapes = {key: tuple(value.shape) for key, value in ours.state_dict().items()}
    assert shapes == TORCHVISION[name]()
    assert sum(p.numel() for p in ours.parameters()) == PUBLISHED_PARAMETERS[name]


def test_a_torchvision_state_dict_loads_strictly_and_runs():
    weights = {k: torch.randn(s) if s else torch.tensor(0) for k, s in convnext_tiny().items()}
    model = networks.create("convnext_tiny", 1000, 3, 64, 64)
    model.load_state_dict(weights, strict=True)
    with torch.no_grad():
        assert model.eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)
