"""Fine-tuning's parts: the pretrained layers' rate and freeze, the declared normalization, and
how an imported weights file is held against its network."""

import pytest
import torch
from torch import nn

from digits.forms import FormErrors
from digits.models.options import parse_normalization, parse_training_options
from digits.models.preprocessing import InputTransform, Preprocessing
from digits.models.train import parameter_groups, set_learning_rate
from digits.models.weights import weight_mismatches


def options(**fields):
    form = {"model_name": "m", "dataset": "d", "lr_policy": "fixed", "learning_rate": "0.1"}
    return parse_training_options(form | fields)


def test_pretrained_layers_wait_while_frozen_then_learn_at_their_multiple():
    tuned = options(
        method="pretrained",
        pretrained_networks="x",
        train_epochs="4",
        freeze_epochs="1",
        pretrained_lr_mult="0.1",
    )
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    optimizer = torch.optim.SGD(parameter_groups(model, tuned), lr=0.1)
    body, head = optimizer.param_groups
    assert {id(p) for p in head["params"]} == {id(p) for p in model[2].parameters()}
    set_learning_rate(optimizer, tuned, percent=10)  # epoch 0.4 of 4: frozen
    assert (body["lr"], head["lr"]) == (0.0, 0.1)
    before = model[0].weight.detach().clone()
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    assert torch.equal(model[0].weight, before)  # frozen layers did not move
    set_learning_rate(optimizer, tuned, percent=30)
    assert body["lr"] == pytest.approx(0.01) and head["lr"] == 0.1


def test_a_model_from_scratch_has_one_group_at_the_policys_rate():
    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(parameter_groups(model, options()), lr=0.1)
    set_learning_rate(optimizer, options(), percent=50)
    assert [g["lr"] for g in optimizer.param_groups] == [0.1]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"normalize_mean": "0.5"}, "normalize_std"),
        ({"normalize_mean": "a,b", "normalize_std": "1"}, "normalize_mean"),
        ({"normalize_mean": "0.5", "normalize_std": "0"}, "normalize_std"),
        ({"normalize_mean": "0.1,0.2", "normalize_std": "1,1,1"}, "normalize_mean"),
    ],
)
def test_a_normalization_needs_a_mean_and_a_positive_std_per_channel(fields, field):
    errors = {}
    assert parse_normalization(fields, errors, channels=3) == (None, None)
    assert field in errors
    with pytest.raises(FormErrors):
        options(**fields)


def test_normalization_is_the_same_in_training_and_classifying():
    normalization = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    pixels = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    expected = (
        pixels.float() / 255 - torch.tensor(normalization[0]).view(1, 3, 1, 1)
    ) / torch.tensor(normalization[1]).view(1, 3, 1, 1)
    assert torch.allclose(InputTransform(None, None, normalization)(pixels), expected)
    training = Preprocessing("none", None, normalization=normalization)
    assert torch.allclose(training(pixels, train=True), expected)  # no augmentation chosen
    assert torch.allclose(training(pixels), expected)


def test_weights_are_held_against_every_key_and_shape():
    network = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    assert weight_mismatches(network, network.state_dict()) is None
    weights = dict(network.state_dict())
    weights["1.weight"] = torch.zeros(5, 4)
    del weights["1.bias"]
    weights["extra"] = torch.zeros(1)
    message = weight_mismatches(network, weights)
    assert "missing keys (1): 1.bias" in message
    assert "unexpected keys (1): extra" in message
    assert "shapes that differ (1): 1.weight: file (5, 4), network (2, 4)" in message


def test_a_snapshot_of_an_earlier_layout_of_the_same_network_still_loads():
    from digits.models import networks
    from digits.models.weights import load_into

    trained = networks.create("resnet18", 3, 3, 32, 32)
    # Before ResNet took torchvision's names it was one nn.Sequential: the same tensors in the
    # same order, numbered.
    earlier = {f"{i}.tensor": v for i, v in enumerate(trained.state_dict().values())}
    fresh = networks.create("resnet18", 3, 3, 32, 32)
    load_into(fresh, earlier)
    assert all(
        torch.equal(a, b)
        for a, b in zip(fresh.state_dict().values(), trained.state_dict().values(), strict=True)
    )
    with pytest.raises(RuntimeError):
        load_into(networks.create("resnet18", 5, 3, 32, 32), earlier)  # not the same shapes


def test_stored_grayscale_becomes_the_colour_and_size_a_pretrained_network_takes():
    pixels = torch.randint(0, 256, (2, 1, 20, 20), dtype=torch.uint8)
    transform = InputTransform(None, None, None, channels=3, size=(28, 28))
    out = transform(pixels)
    assert out.shape == (2, 3, 28, 28)
    assert torch.equal(out[:, 0], out[:, 2])  # the one channel, repeated
    training = Preprocessing("none", None, network_channels=3, network_size=(28, 28))
    assert torch.allclose(training(pixels, train=True), out)
    assert training.output_size(20, 20) == (28, 28)


def test_digits_fields_choose_the_gpu_and_the_snapshot_to_start_from():
    assert options(select_gpu="1").gpus == [1]
    assert options(select_gpu="next").gpus == []
    earlier = "20250101-000000-abcd"
    tuned = options(method="previous", previous_networks=earlier, **{f"{earlier}-snapshot": "2"})
    assert tuned.previous_epoch == 2
    assert options(method="previous", previous_networks=earlier).previous_epoch is None


def test_epoch_0_starts_from_the_architecture_with_new_weights(tmp_path):
    from types import SimpleNamespace

    from digits.jobs.store import JobStore
    from digits.models import networks
    from digits.models.factory import build_network
    from tests.support.model_forms import stored_job

    store = JobStore(tmp_path)
    earlier = stored_job(store, "model")
    torch.manual_seed(5)
    trained = networks.create("lenet", 3, 1, 28, 28)
    parameters = {"model_name": "e", "dataset": "d", "method": "standard"}
    snapshot = {"model": trained.state_dict(), "parameters": parameters, "labels": ["a", "b", "c"]}
    torch.save(snapshot | {"epoch": 1}, store.folder(earlier.id) / "snapshot_epoch_1.pt")
    ctx = SimpleNamespace(events=SimpleNamespace(store=store))

    def start(epoch: str):
        tuned = options(method="previous", previous_networks=earlier.id, previous_epoch=epoch)
        return build_network(tuned, ctx, 3, 1, 28, 28).state_dict()

    first = next(iter(trained.state_dict()))
    assert torch.equal(start("1")[first], trained.state_dict()[first])  # its weights
    assert not torch.equal(start("0")[first], trained.state_dict()[first])  # only its layers
    assert start("0").keys() == trained.state_dict().keys()


def test_a_normalization_of_ones_own_replaces_the_dataset_mean():
    """(x/255 - mean) / std as the person gave it, not shifted by the dataset's mean too."""
    import numpy as np

    from digits.models.preprocessing import mean_tensor, normalization_of

    chosen = options(use_mean="image", normalize_mean="0.5", normalize_std="0.5")
    dataset_mean = np.full((4, 4, 1), 100.0, dtype=np.float32)
    transform = InputTransform(
        mean_tensor(chosen.mean_mode, dataset_mean), None, normalization_of(chosen), None, None
    )
    white = torch.full((1, 1, 4, 4), 255, dtype=torch.uint8)
    assert torch.allclose(transform(white), torch.ones(1, 1, 4, 4))
