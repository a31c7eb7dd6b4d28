"""The image-classification model job type: training under torchrun, and what its page shows."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from digits.config import GPU_QUEUE
from digits.datasets.layout import read_info
from digits.jobs.child import run_in_child
from digits.jobs.job import Job
from digits.jobs.runner import JobContext
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound, read_json_lines
from digits.jobs.types import JobType, register
from digits.models.layout import METRICS_FILE, list_snapshots
from digits.models.options import DEFAULT_BATCH, split_list

STOP_GRACE = 60.0  # seconds to finish the step and write a snapshot before being signalled


def torchrun_command(ctx: JobContext) -> tuple[list[str], dict[str, str]]:
    """One rank per chosen GPU (CUDA_VISIBLE_DEVICES set to them); on a CPU host, as many
    gloo ranks as `select_gpu_count` asks for."""
    from digits.models.options import parse_training_options

    options = parse_training_options(ctx.parameters)
    env: dict[str, str] = {}
    ranks = options.gpu_count
    if _has_cuda():
        gpus = options.gpus or list(range(options.gpu_count))
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
        ranks = len(gpus)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={ranks}", "-m", "digits.models.train", ctx.job.id]  # fmt: skip
    return command, env


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def read_metrics(folder: Path) -> list[dict[str, Any]]:
    return read_json_lines(folder / METRICS_FILE)


def describe_model(job: Job, folder: Path) -> dict[str, Any]:
    """DIGITS' model JSON keys, plus the latest and best validation figures."""
    dataset_id = job.parameters.get("dataset", "")
    dataset_folder = folder.parent / dataset_id
    info = read_info(dataset_folder) if dataset_id and dataset_folder.is_dir() else None
    validations = [row for row in read_metrics(folder) if "val_loss" in row]
    best = min(validations, key=lambda row: row["val_loss"], default=None)
    image = (info or {}).get("image", {})
    ranks = len(split_list(job.parameters.get("select_gpus", ""))) or _int(
        job.parameters.get("select_gpu_count"), 1
    )
    batch = _int(job.parameters.get("batch_size"), DEFAULT_BATCH)
    return {
        "ranks": ranks,
        "batch_per_rank": batch // max(1, ranks),
        "snapshots": list_snapshots(folder),
        "dataset_id": dataset_id,
        "labels": (info or {}).get("labels", []),
        "image dimensions": [image.get("height"), image.get("width"), image.get("channels")],
        "image resize mode": image.get("resize_mode"),
        "framework": "pytorch",
        "network": job.parameters.get("standard_networks") or job.parameters.get("method"),
        "latest": validations[-1] if validations else None,
        "best": best,
    }


def _int(text: Any, default: int) -> int:
    try:
        return int(str(text))
    except ValueError:
        return default


def dataset_ready(job: Job, store) -> tuple[str | None, str | None] | None:
    """A model waits while its dataset is not Done, and fails if the dataset failed."""
    dataset_id = job.parameters.get("dataset", "")
    try:
        dataset = store.get(dataset_id)
    except JobNotFound:
        return None, f"dataset {dataset_id} does not exist (any more)"
    if dataset.status is Status.DONE:
        return None
    if dataset.status.is_terminal:
        return None, f"dataset {dataset.name} ({dataset_id}) ended {dataset.status.label}"
    return f"waiting for dataset {dataset.name} to be Done", None


IMAGE_CLASSIFICATION_MODEL = register(
    JobType(
        name="image-classification-model",
        kind="model",
        queue=GPU_QUEUE,
        run=run_in_child(torchrun_command, stop_grace=STOP_GRACE),
        title="Images → Classification",
        form_endpoint="models.new_classification",
        describe=describe_model,
        page_template="models/sections.html",
        waiting_on=dataset_ready,
    )
)
