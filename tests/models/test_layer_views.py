"""Inside each standard network: every layer's pictures and statistics, and Grad-CAM."""

import pytest
import torch
from torch import nn

from digits.models import networks
from digits.models.layer_views import grad_cam, layer_visualizations, leaf_layers

SIZES = {"lenet": 28, "alexnet": 227}  # the others take any reasonable size


@pytest.mark.parametrize("name", networks.names())
def test_every_layer_of_each_standard_network_is_shown(name):
    torch.manual_seed(0)
    size = SIZES.get(name, 64)
    network = networks.create(name, 5, 3, size, size).eval()
    for module in network.modules():  # as inference loads them: each layer's output kept
        if getattr(module, "inplace", False):
            module.inplace = False
    image = torch.rand(1, 3, size, size)
    layers = layer_visualizations(network, image)
    assert [layer["name"] for layer in layers] == [name for name, _ in leaf_layers(network)]
    for layer, (_, module) in zip(layers, leaf_layers(network), strict=True):
        assert "activations" in layer, layer["name"]
        assert layer["activations"]["image"].startswith("data:image/png;base64,")
        assert layer["activations"]["min"] <= layer["activations"]["mean"]
        has_weight = isinstance(getattr(module, "weight", None), torch.Tensor)
        assert ("weights" in layer) == has_weight, layer["name"]
        assert layer["parameters"] == sum(p.numel() for p in module.parameters())
    heat = grad_cam(network, image.clone(), target=2)
    assert heat is not None and heat.shape == (size, size)
    assert heat.min() >= 0 and heat.max() <= 1 + 1e-6


def test_a_network_without_convolutions_has_no_saliency_map():
    network = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    assert grad_cam(network, torch.rand(1, 3, 2, 2), target=0) is None
