"""A dataset built and a model trained in this process, as a worker would (no server): for
tests of what a trained model's files give (its export, its answers)."""

from __future__ import annotations

from pathlib import Path

from digits.config import Settings
from digits.datasets.creation import build_dataset
from digits.jobs.context import JobContext
from digits.jobs.events import JobEvents
from digits.jobs.job import Job
from digits.jobs.status import Status
from digits.jobs.store import JobStore
from digits.models.train import train
from tests.support.imagesets import make_class_folders
from tests.support.model_forms import stored_job

TINY_NETWORK = """
from torch import nn

def network(num_classes, channels, height, width):
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * height * width, num_classes))
"""


def trained_classifier(tmp_path: Path, **fields) -> tuple[JobStore, Job]:
    """Three colours of 12x10 images, and a one-layer network trained on them for an epoch."""
    images = make_class_folders(tmp_path / "images", per_class=6)
    settings = Settings(jobs_dir=tmp_path / "jobs", data_roots=(images,))
    store = JobStore(settings.jobs_dir)
    events = JobEvents(store, lambda *args, **kwargs: None)
    dataset = stored_job(
        store,
        "dataset",
        Status.RUN,
        dataset_name="colours",
        method="folder",
        folder_train=str(images),
        resize_width="12",
        resize_height="10",
        folder_pct_val="30",
    )
    build_dataset(JobContext(dataset, settings, events))
    model = stored_job(
        store,
        "model",
        Status.RUN,
        **{"model_name": "tiny", "dataset": dataset.id, "method": "custom"}
        | {"custom_network": TINY_NETWORK, "train_epochs": "1", "batch_size": "4"}
        | fields,
    )
    train(JobContext(model, settings, events))
    return store, model
