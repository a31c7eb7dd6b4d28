"""The standard networks: a registry where adding a network is adding one function.

Every network is built as `network(num_classes, channels, height, width) -> nn.Module`, the same
signature a custom network's code defines, so standard and custom networks train alike.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

NetworkFactory = Callable[[int, int, int, int], nn.Module]

_registry: dict[str, NetworkFactory] = {}


def register(name: str, title: str):
    """Register a network under `name`; its title names the input size it was designed for.

    digits.models.catalog reads these decorators from this file's source (the web server
    lists and checks networks without importing torch): keep both arguments literal strings.
    """

    def decorator(factory: NetworkFactory) -> NetworkFactory:
        _registry[name] = factory
        return factory

    return decorator


def create(name: str, num_classes: int, channels: int, height: int, width: int) -> nn.Module:
    if name not in _registry:
        raise KeyError(f"unknown network {name!r}; choose one of {', '.join(_registry)}")
    return _registry[name](num_classes, channels, height, width)


def names() -> list[str]:
    return list(_registry)


def flat_size(features: nn.Module, channels: int, height: int, width: int) -> int:
    """How many values `features` makes of one image: the size of the first linear layer."""
    with torch.no_grad():
        return features(torch.zeros(1, channels, height, width)).numel()


@register("lenet", "LeNet (28x28, grayscale digits)")
def lenet(num_classes: int, channels: int, height: int, width: int) -> nn.Module:
    """LeNet as DIGITS defined it: two conv/pool pairs, a 500-unit layer (inputs scaled 1/255)."""
    features = nn.Sequential(
        nn.Conv2d(channels, 20, kernel_size=5),
        nn.MaxPool2d(2),
        nn.Conv2d(20, 50, kernel_size=5),
        nn.MaxPool2d(2),
        nn.Flatten(),
    )
    return nn.Sequential(
        features,
        nn.Linear(flat_size(features, channels, height, width), 500),
        nn.ReLU(inplace=True),
        nn.Linear(500, num_classes),
    )


@register("alexnet", "AlexNet (227x227)")
def alexnet(num_classes: int, channels: int, height: int, width: int) -> nn.Module:
    """AlexNet as in DIGITS/Caffe: five convolutions, three fully connected layers, dropout."""
    return nn.Sequential(
        nn.Conv2d(channels, 96, kernel_size=11, stride=4),
        nn.ReLU(inplace=True),
        nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2),
        nn.ReLU(inplace=True),
        nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
        nn.AdaptiveAvgPool2d((6, 6)),  # any input size, as DIGITS' crop options allow
        nn.Flatten(),
        nn.Linear(256 * 6 * 6, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(4096, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(4096, num_classes),
    )


class _Inception(nn.Module):
    """GoogLeNet's inception block: 1x1, 3x3, 5x5 and pooled branches, concatenated."""

    def __init__(self, cin, c1, c3r, c3, c5r, c5, pool):
        super().__init__()

        def conv(i, o, k):
            return nn.Sequential(nn.Conv2d(i, o, k, padding=k // 2), nn.ReLU(inplace=True))

        self.b1 = conv(cin, c1, 1)
        self.b3 = nn.Sequential(conv(cin, c3r, 1), conv(c3r, c3, 3))
        self.b5 = nn.Sequential(conv(cin, c5r, 1), conv(c5r, c5, 5))
        self.bp = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), conv(cin, pool, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)


@register("googlenet", "GoogLeNet (224x224)")
def googlenet(num_classes: int, channels: int, height: int, width: int) -> nn.Module:
    """GoogLeNet (Inception v1) as DIGITS shipped it, without the auxiliary classifiers."""
    return nn.Sequential(
        nn.Conv2d(channels, 64, 7, stride=2, padding=3),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        nn.LocalResponseNorm(5, 1e-4, 0.75),
        nn.Conv2d(64, 64, 1),
        nn.ReLU(inplace=True),
        nn.Conv2d(64, 192, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.LocalResponseNorm(5, 1e-4, 0.75),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        _Inception(192, 64, 96, 128, 16, 32, 32),
        _Inception(256, 128, 128, 192, 32, 96, 64),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        _Inception(480, 192, 96, 208, 16, 48, 64),
        _Inception(512, 160, 112, 224, 24, 64, 64),
        _Inception(512, 128, 128, 256, 24, 64, 64),
        _Inception(512, 112, 144, 288, 32, 64, 64),
        _Inception(528, 256, 160, 320, 32, 128, 128),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        _Inception(832, 256, 160, 320, 32, 128, 128),
        _Inception(832, 384, 192, 384, 48, 128, 128),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.4),
        nn.Linear(1024, num_classes),
    )


class _BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = width * self.expansion
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 3, stride, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = _shortcut(cin, cout, stride)

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = width * self.expansion
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = _shortcut(cin, cout, stride)

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


def _resnet(block, depths, num_classes: int, channels: int) -> nn.Module:
    layers: list[nn.Module] = [
        nn.Conv2d(channels, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1),
    ]
    cin = 64
    for stage, (width, depth) in enumerate(zip((64, 128, 256, 512), depths, strict=True)):
        for index in range(depth):
            stride = 2 if stage > 0 and index == 0 else 1
            layers.append(block(cin, width, stride))
            cin = width * block.expansion
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


@register("resnet18", "ResNet-18 (224x224)")
def resnet18(num_classes: int, channels: int, height: int, width: int) -> nn.Module:
    return _resnet(_BasicBlock, (2, 2, 2, 2), num_classes, channels)


@register("resnet50", "ResNet-50 (224x224)")
def resnet50(num_classes: int, channels: int, height: int, width: int) -> nn.Module:
    return _resnet(_Bottleneck, (3, 4, 6, 3), num_classes, channels)


def _inverted_residual(cin: int, cout: int, stride: int, expand: int) -> nn.Module:
    hidden = cin * expand
    body = nn.Sequential(
        nn.Conv2d(cin, hidden, 1, bias=False),
        nn.BatchNorm2d(hidden),
        nn.ReLU6(inplace=True),
        nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
        nn.BatchNorm2d(hidden),
        nn.ReLU6(inplace=True),
        nn.Conv2d(hidden, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
    )
    return _Residual(body) if stride == 1 and cin == cout else body


class _Residual(nn.Module):
    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


@register("mobilenet_v2", "MobileNetV2 (224x224, mobile-sized)")
def mobilenet_v2(num_classes: int, channels: int, height: int, width: int) -> nn.Module:
    """MobileNetV2: inverted residual blocks with depthwise convolutions (3.5M parameters)."""
    settings = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ]
    layers: list[nn.Module] = [
        nn.Conv2d(channels, 32, 3, 2, 1, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU6(inplace=True),
    ]
    cin = 32
    for expand, cout, repeats, stride in settings:
        for index in range(repeats):
            layers.append(_inverted_residual(cin, cout, stride if index == 0 else 1, expand))
            cin = cout
    layers += [
        nn.Conv2d(cin, 1280, 1, bias=False),
        nn.BatchNorm2d(1280),
        nn.ReLU6(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(1280, num_classes),
    ]
    return nn.Sequential(*layers)
