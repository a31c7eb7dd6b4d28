"""How training reads its images: decoded once into memory when they fit, else through loader
processes; the batches are the same either way, in the same order, resumed or not."""

import numpy as np
import pytest
import torch

from digits.datasets import layout
from digits.datasets.database import DatabaseWriter, encode_record
from digits.forms import FormErrors
from digits.models.distributed import Distributed
from digits.models.options import parse_training_options
from digits.models.training_data import load_data


@pytest.fixture
def dataset_folder(tmp_path):
    rng = np.random.default_rng(0)
    for split, count in (("train", 37), ("val", 11)):
        writer = DatabaseWriter(tmp_path / layout.database(split))
        for n in range(count):
            pixels = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            writer.put(encode_record(pixels, n % 3, "png"))
        writer.close()
    return tmp_path


def options(**fields):
    form = {"model_name": "m", "dataset": "d", "batch_size": "8", "random_seed": "3"}
    return parse_training_options(form | fields)


CPU = Distributed(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


def batches(loader):
    return [(images.clone(), labels.clone()) for images, labels in loader]


def test_in_memory_batches_are_the_loader_processes_batches(dataset_folder):
    read = load_data(dataset_folder, options(data_cache="none", loader_workers="1"), CPU)
    cached = load_data(dataset_folder, options(data_cache="ram"), CPU)
    assert type(cached[0]).__name__ == "MemoryLoader" and type(read[0]).__name__ == "DataLoader"
    for loader_a, loader_b in ((read[0], cached[0]), (read[1], cached[1])):
        assert len(loader_a) == len(loader_b)
        for (images_a, labels_a), (images_b, labels_b) in zip(
            batches(loader_a), batches(loader_b), strict=True
        ):
            assert images_a.dtype == images_b.dtype == torch.uint8
            assert torch.equal(images_a, images_b) and torch.equal(labels_a, labels_b)


def test_the_loader_settings_a_person_chose_are_the_loaders(dataset_folder):
    chosen = options(data_cache="none", loader_workers="2", loader_prefetch="3")
    train, val, _ = load_data(dataset_folder, chosen, CPU)
    assert (train.num_workers, train.prefetch_factor) == (2, 3)
    assert (val.num_workers, val.prefetch_factor) == (2, 3)
    picked, _, _ = load_data(dataset_folder, options(data_cache="none"), CPU)
    assert picked.num_workers >= 1 and picked.prefetch_factor == 2  # torch's, on the CPU
    with pytest.raises(FormErrors) as refused:
        options(loader_prefetch="0")
    assert list(refused.value.errors) == ["loader_prefetch"]


def test_an_epoch_resumed_part_way_goes_on_with_the_same_images(dataset_folder):
    train, _, sampler = load_data(dataset_folder, options(data_cache="ram"), CPU)
    sampler.set_epoch(1)
    whole = batches(train)
    sampler.set_epoch(1)
    sampler.skip = 2 * train.batch_size
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches(train), whole[2:], strict=True))


def test_auto_decodes_into_memory_what_fits(dataset_folder):
    assert type(load_data(dataset_folder, options(), CPU)[0]).__name__ == "MemoryLoader"
