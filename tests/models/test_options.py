"""The New Model form's fields as the trainer reads them: DIGITS' meanings where it had one."""

import pytest

from digits.forms import FormErrors
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


@pytest.mark.parametrize(
    ("select_gpus", "gpus", "host_gpus", "error"),
    [
        ("0,2", [0, 2], (), None),
        ("node1:0, node2:1,node1:1", [], (("node1", 0), ("node1", 1), ("node2", 1)), None),
        ("node1:0,node1:1", [], (("node1", 0), ("node1", 1)), None),
        ("node1:x,node2:0", [], (), "host:index pairs"),
        ("a", [], (), "host:index pairs"),
    ],
)
def test_gpus_are_chosen_by_index_or_on_several_hosts_by_host(select_gpus, gpus, host_gpus, error):
    form = {"model_name": "m", "dataset": "d", "select_gpus": select_gpus}
    if error is None:
        options = parse_training_options(form)
        assert (options.gpus, options.host_gpus) == (gpus, host_gpus)
    else:
        with pytest.raises(FormErrors) as refused:
            parse_training_options(form)
        assert error in refused.value.errors["select_gpus"][0]


def test_probe_images_are_the_first_n_or_those_picked_by_number():
    base = {"model_name": "m", "dataset": "d"}
    assert parse_training_options(base).probe_indexes == (0, 1, 2, 3)
    assert parse_training_options(base | {"probe_images": "0"}).probe_indexes == ()
    picked = parse_training_options(base | {"probe_records": "17, 3,17"})
    assert picked.probe_indexes == (17, 3)
    # The hardest are found at the first validation: none to follow before it.
    assert parse_training_options(base | {"probe_pick": "hardest"}).probe_indexes == ()
    with pytest.raises(FormErrors):
        parse_training_options(base | {"probe_pick": "random"})
    for bad in ("3, x", "-1", ",".join(map(str, range(17)))):
        with pytest.raises(FormErrors) as refused:
            parse_training_options(base | {"probe_records": bad})
        assert "probe_records" in refused.value.errors


def test_each_declared_default_is_what_a_blank_field_gives_and_what_the_form_shows(client):
    """One declaration per field: the parser, the dataclass and the New Model page agree."""
    import re

    from digits.models.fields import FIELDS
    from digits.models.options import TrainingOptions

    blank = parse_training_options(FORM | {"standard_networks": "lenet"})
    assert (blank.epochs, blank.learning_rate, blank.rotation) == (
        FIELDS["train_epochs"].default,
        FIELDS["learning_rate"].default,
        FIELDS["aug_rot"].default,
    )
    assert TrainingOptions("m", "d", "standard").snapshot_interval == blank.snapshot_interval
    client.post("/login", data={"username": "fred"})
    page = client.get("/models/images/classification/new").get_data(as_text=True)
    for field in FIELDS.values():
        if field.kind in ("int", "float"):
            shown = re.search(rf'name="{field.name}" type="\w+" value="([^"]*)"', page)
            assert shown and shown.group(1) == field.shown_default, field.name
        elif field.kind == "choice" and field.name not in ("loss", "method"):  # (elsewhere)
            chosen = re.search(
                rf'<select id="{field.name}" name="{field.name}">.*?value="([^"]*)" selected',
                page,
                re.S,
            )
            assert chosen and chosen.group(1) == field.default, field.name
