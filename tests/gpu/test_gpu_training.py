"""GPU-only: a model job's trainer on CUDA (bf16, channels-last), pinned to GPU 0.

Run by scripts/gpu-check on a GPU machine; skipped elsewhere. Needs no server: the dataset and
model jobs are laid out with the job store and the trainer runs under torchrun, as a worker
would start it.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from digits.config import Settings
from digits.datasets.build import build_dataset
from digits.jobs.events import JobEvents, read_events
from digits.jobs.job import Job, new_job_id
from digits.jobs.runner import JobContext
from digits.jobs.status import Status
from digits.jobs.store import JobStore

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def new_job(store, kind, parameters):
    job = Job(id=new_job_id(), type=f"image-classification-{kind}", kind=kind, name=kind,
              owner="gpu", queue="gpu", parameters=parameters)  # fmt: skip
    job.set_status(Status.RUN)
    store.create(job)
    return job


def test_training_on_gpu_zero_learns_and_reports(tmp_path):
    images = tmp_path / "images"
    for n in range(300):
        label = n % 3
        (images / f"c{label}").mkdir(parents=True, exist_ok=True)
        pixels = np.zeros((32, 32, 3), np.uint8)
        pixels[..., label] = 200 + n % 50
        Image.fromarray(pixels).save(images / f"c{label}" / f"{n}.png")
    settings = Settings(jobs_dir=tmp_path / "jobs", data_roots=(images,))
    store = JobStore(settings.jobs_dir)
    dataset = new_job(store, "dataset", {"dataset_name": "d", "method": "folder",
                                         "folder_train": str(images), "resize_width": "32",
                                         "resize_height": "32"})  # fmt: skip
    build_dataset(JobContext(dataset, settings, JobEvents(store, lambda *a: None)))
    model = new_job(store, "model", {"model_name": "m", "dataset": dataset.id,
                                     "method": "standard", "standard_networks": "resnet18",
                                     "train_epochs": "3", "batch_size": "32",
                                     "learning_rate": "0.01", "random_seed": "0"})  # fmt: skip
    env = {**os.environ, **settings.to_environment(), "CUDA_VISIBLE_DEVICES": "0"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=1", "-m", "digits.models.train", model.id]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    folder = store.folder(model.id)
    log = [e["line"] for e in read_events(folder) if e.get("update") == "log"]
    assert result.returncode == 0, "\n".join(log[-30:]) + result.stderr[:3000]

    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert max(r["val_top1"] for r in rows if "val_top1" in r) >= 90.0
    snapshot = torch.load(folder / "snapshot_epoch_3.pt", weights_only=True)
    assert snapshot["labels"] == ["c0", "c1", "c2"]
    progress = [e for e in read_events(folder) if e.get("update") == "progress"]
    assert progress[-1]["progress"] == 1.0 and progress[-1]["images_per_sec"] > 0
