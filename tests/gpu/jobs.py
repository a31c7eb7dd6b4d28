"""A Done dataset and a model job laid out with the job store, as a worker would find them."""

import os
import subprocess
import sys

import numpy as np
from PIL import Image

from digits.config import Settings
from digits.datasets.creation import build_dataset
from digits.jobs.context import JobContext
from digits.jobs.events import JobEvents
from digits.jobs.job import Job, new_job_id
from digits.jobs.status import Status
from digits.jobs.store import JobStore


def new_job(store, kind, parameters):
    job = Job(
        id=new_job_id(),
        type=f"image-classification-{kind}",
        kind=kind,
        name=kind,
        owner="gpu",
        queue="gpu",
        parameters=parameters,
    )
    job.set_status(Status.RUN)
    store.create(job)
    return job


def dataset_and_model(tmp_path, epochs: int, **parameters):
    """300 32x32 images of 3 colours, built; a ResNet-18 model job on them, not yet run."""
    images = tmp_path / "images"
    for n in range(300):
        label = n % 3
        (images / f"c{label}").mkdir(parents=True, exist_ok=True)
        pixels = np.zeros((32, 32, 3), np.uint8)
        pixels[..., label] = 200 + n % 50
        Image.fromarray(pixels).save(images / f"c{label}" / f"{n}.png")
    settings = Settings(jobs_dir=tmp_path / "jobs", data_roots=(images,))
    store = JobStore(settings.jobs_dir)
    dataset = new_job(
        store,
        "dataset",
        {
            "dataset_name": "d",
            "method": "folder",
            "folder_train": str(images),
            "resize_width": "32",
            "resize_height": "32",
        },
    )
    build_dataset(JobContext(dataset, settings, JobEvents(store, lambda *a: None)))
    model = new_job(
        store,
        "model",
        {
            "model_name": "m",
            "dataset": dataset.id,
            "method": "standard",
            "standard_networks": "resnet18",
            "train_epochs": str(epochs),
            "batch_size": "32",
            "learning_rate": "0.01",
            "random_seed": "0",
        }
        | parameters,
    )
    return settings, store, model


def run_trainer(settings, model, gpus: str = "0", confinement=None) -> subprocess.CompletedProcess:
    """The model job's trainer under torchrun on these GPUs, as a worker starts it (in a
    sandbox of `confinement`, if given)."""
    env = {**os.environ, **settings.to_environment(), "CUDA_VISIBLE_DEVICES": gpus}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=1",
        "-m",
        "digits.models.train",
        model.id,
    ]
    if confinement is not None:
        from digits import sandbox

        command, env = sandbox.wrap(command, confinement), sandbox.sandboxed_environment(env)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
