"""The New Model form's fields as the trainer reads them: DIGITS' meanings where it had one."""

import pytest

from digits.models.options import parse_training_options

FORM = {"model_name": "m", "dataset": "d", "method": "standard"}


@pytest.mark.parametrize(
    ("network", "batch"), [("lenet", 64), ("alexnet", 128), ("googlenet", 32), ("resnet50", 32)]
)
def test_a_blank_batch_size_is_the_standard_networks_own(network, batch):
    options = parse_training_options(FORM | {"standard_networks": network, "batch_size": ""})
    assert options.batch_size == batch
    chosen = parse_training_options(FORM | {"standard_networks": network, "batch_size": "7"})
    assert chosen.batch_size == 7


def test_early_stopping_is_off_unless_asked_for():
    assert parse_training_options(FORM).patience is None
    assert parse_training_options(FORM | {"patience": ""}).patience is None
    assert parse_training_options(FORM | {"patience": "3"}).patience == 3
