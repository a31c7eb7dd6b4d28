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


# The networks below have the module names of torchvision's reference implementations, so that
# the weights torchvision publishes (ImageNet) load into them unchanged.


class BasicBlock(nn.Module):
    """ResNet-18/34's block: two 3x3 convolutions and the shortcut."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = _downsample(cin, width, stride)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    """ResNet-50's block: 1x1, 3x3 (with the stride, as torchvision's v1.5), 1x1 x4."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(cin, cout, stride)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


def _downsample(cin: int, cout: int, stride: int):
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class ResNet(nn.Module):
    def __init__(self, block, depths, num_classes: int, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for stage, (width, depth) in enumerate(zip((64, 128, 256, 512), depths, strict=True)):
            blocks = []
            for index in range(depth):
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(block(cin, width, stride))
                cin = width * block.expansion
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@register("resnet18", "ResNet-18 (224x224)")
def resnet18(num_classes: int, channels: int, height: int, width: int) -> nn.Module:
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, channels)


@register("resnet50", "ResNet-50 (224x224)")
def resnet50(num_classes: int, channels: int, height: int, width: int) -> nn.Module:
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, channels)


def conv_norm_activation(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
    """torchvision's Conv2dNormActivation with batch norm and ReLU6: conv (0), norm (1), act."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """MobileNetV2's block: expand (unless by 1), depthwise 3x3, linear 1x1 projection."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers = [conv_norm_activation(cin, hidden, 1)] if expand != 1 else []
        layers += [
            conv_norm_activation(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.use_res_connect = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int, channels: int):
        super().__init__()
        settings = [  # expansion, channels, blocks, first stride
            (1, 16, 1, 1),
            (6, 24, 2, 2),
            (6, 32, 3, 2),
            (6, 64, 4, 2),
            (6, 96, 3, 1),
            (6, 160, 3, 2),
            (6, 320, 1, 1),
        ]
        features: list[nn.Module] = [conv_norm_activation(channels, 32, 3, 2)]
        cin = 32
        for expand, cout, repeats, stride in settings:
            for index in range(repeats):
                features.append(InvertedResidual(cin, cout, stride if index == 0 else 1, expand))
                cin = cout
        features.append(conv_norm_activation(cin, 1280, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


@register("mobilenet_v2", "MobileNetV2 (224x224, mobile-sized)")
def mobilenet_v2(num_classes: int, channels: int, height: int, width: int) -> nn.Module:
    """MobileNetV2: inverted residual blocks with depthwise convolutions (3.5M parameters)."""
    return MobileNetV2(num_classes, channels)


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels of an N x C x H x W tensor."""

    def forward(self, x):
        x = nn.functional.layer_norm(
            x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps
        )
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    def __init__(self, dims: list[int]):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


class CNBlock(nn.Module):
    """ConvNeXt's block: depthwise 7x7, layer norm, an MLP of 4x, layer scale, a random skip of
    the whole block while training (stochastic depth)."""

    def __init__(self, dim: int, drop: float):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), 1e-6))
        self.drop = drop

    def forward(self, x):
        out = self.layer_scale * self.block(x)
        if self.training and self.drop > 0:
            keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.drop
            out = out * keep / (1 - self.drop)
        return x + out


class ConvNeXt(nn.Module):
    def __init__(self, num_classes: int, channels: int, drop: float = 0.1):
        super().__init__()
        stages = [(96, 3), (192, 3), (384, 9), (768, 3)]  # ConvNeXt-Tiny: width, blocks
        total, done = sum(depth for _, depth in stages), 0
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(channels, 96, 4, 4), LayerNorm2d(96, eps=1e-6))
        ]
        for number, (dim, depth) in enumerate(stages):
            blocks = [CNBlock(dim, drop * (done + i) / (total - 1)) for i in range(depth)]
            layers.append(nn.Sequential(*blocks))
            done += depth
            if number + 1 < len(stages):
                after = stages[number + 1][0]
                layers.append(
                    nn.Sequential(LayerNorm2d(dim, eps=1e-6), nn.Conv2d(dim, after, 2, 2))
                )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            LayerNorm2d(768, eps=1e-6), nn.Flatten(1), nn.Linear(768, num_classes)
        )

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


@register("convnext_tiny", "ConvNeXt-Tiny (224x224, a modern 28M-parameter network)")
def convnext_tiny(num_classes: int, channels: int, height: int, width: int) -> nn.Module:
    return ConvNeXt(num_classes, channels)
