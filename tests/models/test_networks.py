import pytest
import torch

from digits.models import networks
from digits.models.factory import (
    NetworkError,
    _resize_last_linear,
    checked_network,
    custom_factory,
)
from digits.models.graph import summarize
from digits.models.solvers import SOLVERS, create_optimizer

IMAGENET = (3, 224, 224)
SIZES = {
    "lenet": (1, 28, 28),
    "alexnet": (3, 227, 227),
    "googlenet": IMAGENET,
    "resnet18": IMAGENET,
    "resnet50": IMAGENET,
    "mobilenet_v2": IMAGENET,
    "convnext_tiny": IMAGENET,
}


@pytest.mark.parametrize("name", networks.names())
def test_each_standard_network_gives_one_score_per_class(name):
    channels, height, width = SIZES[name]
    model = networks.create(name, 7, channels, height, width).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, channels, height, width)).shape == (2, 7)


def test_lenet_adapts_to_other_sizes_and_colour():
    model = networks.create("lenet", 3, 3, 32, 40)
    assert model(torch.zeros(2, 3, 32, 40)).shape == (2, 3)


@pytest.mark.parametrize("solver", SOLVERS)
def test_each_solver_builds_and_steps(solver):
    layer = torch.nn.Linear(3, 2)
    optimizer = create_optimizer(solver, layer.parameters(), 0.1)
    before = layer.weight.detach().clone()
    layer(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    assert not torch.equal(before, layer.weight)


GOOD = """
import torch
from torch import nn

def network(num_classes, channels, height, width):
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * height * width, num_classes))
"""


def test_a_good_custom_network_is_summarized_layer_by_layer():
    model = checked_network(custom_factory(GOOD), 4, 1, 8, 8)
    rows = summarize(model, 1, 8, 8)
    assert [(r.kind, r.output_shape, r.parameters) for r in rows] == [
        ("Flatten", [64], 0),
        ("Linear", [4], 64 * 4 + 4),
    ]


@pytest.mark.parametrize(
    ("code", "message", "line"),
    [
        ("def network(a, b, c, d)\n    return 1\n", "syntax error", 1),
        ("x = 1\ndef network(a, b, c, d):\n    raise ValueError('nope')\n", "ValueError: nope", 3),
        ("def network(a, b, c, d):\n    return 42\n", "not a torch.nn.Module", None),
        (
            "from torch import nn\ndef network(n, c, h, w):\n    return nn.Linear(5, n)\n",
            "fails on 1x8x8 images",
            None,
        ),
        (
            "from torch import nn\ndef network(n, c, h, w):\n"
            "    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 3))\n",
            "must be (2, 4)",
            None,
        ),
        ("print('no network here')\n", "must define network", None),
    ],
)
def test_broken_custom_networks_say_what_and_where(code, message, line):
    with pytest.raises(NetworkError) as info:
        checked_network(custom_factory(code), 4, 1, 8, 8)
    assert message in str(info.value)
    if line:
        assert info.value.line == line


def test_fine_tuning_resizes_the_last_layer():
    model = networks.create("lenet", 10, 1, 28, 28)
    _resize_last_linear(model, 3)
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 3)
