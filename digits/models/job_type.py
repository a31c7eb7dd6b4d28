"""The model job types that train (classification, generic) and the settings finders that
train a little (the learning-rate range test, the largest batch): how they run, what their
pages show."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from digits import tasks
from digits.config import GPU_QUEUE
from digits.datasets.database import records_at
from digits.datasets.layout import database, read_info
from digits.files import read_json_lines, read_last_json_lines, read_regular
from digits.forms import is_whole_number
from digits.jobs.child import run_in_child
from digits.jobs.events import USAGE_FILE
from digits.jobs.gang_runs import read_gang
from digits.jobs.job import Job
from digits.jobs.types import JobType, register
from digits.models import batch_finder, lr_finder
from digits.models.job_parameters import (
    dataset_ready,
    gpu_request,
    gpu_request_of,
    options_of,
    uses,
)
from digits.models.launch import torchrun_command
from digits.models.layout import (
    METRICS_FILE,
    MODEL_LABELS,
    MODEL_MEAN,
    MODEL_NETWORK,
    PROBES_FILE,
    VAL_CONFUSION_FILE,
    list_snapshots,
    picked_probes,
    snapshot_name,
)
from digits.models.sandboxing import training_confinement

# The batch finder's record of how many GPUs the form that started it chose (it runs on one).
BATCH_FOR_GPUS = "batch_for_gpus"


STOP_GRACE = 60.0  # seconds to finish the step and write a snapshot before being signalled


def read_metrics(folder: Path) -> list[dict[str, Any]]:
    return read_json_lines(folder / METRICS_FILE)


USAGE_HISTORY = 300  # samples (seconds) of CPU/GPU figures a model page starts with


def model_page_data(job: Job, folder: Path, args: Mapping[str, str]) -> dict[str, Any]:
    """What the model page's charts start from (then live events extend them)."""
    return {
        "metrics": read_metrics(folder),
        "usage": read_last_json_lines(folder / USAGE_FILE, USAGE_HISTORY),
        "probes": probe_history(job, folder),
    }


def probe_history(job: Job, folder: Path) -> dict[str, Any] | None:
    """The probe images (pictures, true classes) and their top predictions at each validation
    so far; None for a model that follows none."""
    options = options_of(job)
    indexes = (picked_probes(folder) or options.probe_indexes) if options else ()
    if not indexes:
        return None
    dataset_folder = folder.parent / options.dataset
    info = read_info(dataset_folder)
    if info is None or not tasks.of_dataset(info).follows_probes or "val" not in info.splits:
        return None
    records = records_at(dataset_folder / database("val"), indexes)
    history = read_json_lines(folder / PROBES_FILE)
    return {
        "labels": info.labels,
        "images": [{"image": record.png_data_uri(), "label": record.label} for record in records],
        "history": history,
    }


def model_details(job: Job, folder: Path) -> dict[str, Any]:
    """DIGITS' model JSON keys, plus the latest and best validation figures."""
    options = options_of(job)
    if options is None:
        return {"framework": "pytorch", "snapshots": list_snapshots(folder)}
    dataset_id = options.dataset
    dataset_folder = folder.parent / dataset_id
    info = read_info(dataset_folder) if dataset_id and dataset_folder.is_dir() else None
    task = tasks.of_model(job.type, info)
    validations = [row for row in read_metrics(folder) if "val_loss" in row]
    best = task.metric.best_row(validations)
    labels = info.labels if info else []
    gang = read_gang(folder)
    # Across hosts, `gpus` are the leader's alone: every host's ranks are the request's.
    ranks = (not gang and len(job.gpus)) or gpu_request_of(options).size
    details = {
        "task": task.name,
        "generic": task.generic,
        "metric": task.metric.to_dict(),
        **(task.model_details(info, options) if info else {}),
        "ranks": ranks,
        # Trained across hosts: each host and its GPUs, the rendezvous's host first.
        "hosts": gang["hosts"] if gang else None,
        "batch_size": options.batch_size,  # a blank field's: the network's own default
        "batch_per_rank": options.batch_size // max(1, ranks),
        "snapshots": list_snapshots(folder),
        "dataset_id": dataset_id,
        "labels": labels,
        "image dimensions": [info.image.height, info.image.width, info.image.channels]
        if info
        else [None, None, None],
        "image resize mode": info.image.resize_mode if info else None,
        "framework": "pytorch",
        "network": options.network if options.method == "standard" else options.method,
        "latest": validations[-1] if validations else None,
        # The best validation by the task's metric: the epoch pruning keeps, early stopping
        # waits on, Compare and search rank by.
        "best": best,
        "best_summary": task.describe_best(best) if best else None,
        "list_help": task.list_help,
        **_digits_files(folder),
        "validation_confusion": _validation_confusion(folder, labels),
    }
    return details | {"outputs_summary": task.describe_outputs(details)}


def _digits_files(folder: Path) -> dict[str, Any]:
    """DIGITS' names of a model's files (each under /files/<job id>/), where they exist."""
    snapshots = list_snapshots(folder)
    present = {
        "labels file": MODEL_LABELS,
        "mean file": MODEL_MEAN,
        "model file": MODEL_NETWORK,
    }
    return {key: name if (folder / name).exists() else None for key, name in present.items()} | {
        "snapshot file": snapshot_name(snapshots[-1]) if snapshots else "no snapshots"
    }


def _validation_confusion(folder: Path, labels: list[str]) -> dict[str, Any] | None:
    """The validation set's confusion matrix and per-class accuracy at the best epoch."""
    try:
        data = json.loads(read_regular(folder / VAL_CONFUSION_FILE))
    except (FileNotFoundError, ValueError):
        return None
    matrix = data["matrix"]
    per_class = [
        {"label": label, "count": sum(row), "top1": 100.0 * row[i] / sum(row) if sum(row) else None}
        for i, (label, row) in enumerate(zip(labels, matrix, strict=False))
    ]
    return {"epoch": data["epoch"], "labels": labels, "matrix": matrix, "per_class": per_class}


def snapshot_to_resume(job: Job, folder: Path) -> str | None:
    """A model goes on from its latest snapshot (the trainer loads it when it starts)."""
    epochs = list_snapshots(folder)
    return f"the snapshot of epoch {epochs[-1]:g}" if epochs else None


IMAGE_CLASSIFICATION_MODEL = register(
    JobType(
        name=tasks.CLASSIFICATION_MODEL_TYPE,
        kind="model",
        queue=GPU_QUEUE,
        run=run_in_child(
            torchrun_command,
            stop_grace=STOP_GRACE,
            record_usage=True,
            confine=training_confinement,
        ),
        title="Images → Classification",
        form_endpoint="models.new_classification",
        details=model_details,
        page_template="models/sections.html",
        page_data=model_page_data,
        waiting_on=dataset_ready,
        gpu_request=gpu_request,
        depends_on=uses,
        resume_point=snapshot_to_resume,
        trains=True,
    )
)


IMAGE_GENERIC_MODEL = register(
    replace(
        IMAGE_CLASSIFICATION_MODEL,
        name=tasks.GENERIC_MODEL_TYPE,
        title="Images → Other",
        form_endpoint="models.new_generic",
    )
)


def range_test_details(job: Job, folder: Path) -> dict[str, Any]:
    """A learning-rate range test's losses by rate and its proposed rate."""
    options = options_of(job)
    info = read_info(folder.parent / options.dataset) if options and options.dataset else None
    return {
        "dataset_id": options.dataset if options else None,
        "generic": bool(info and tasks.of_dataset(info).generic),
        "range_test": lr_finder.read_result(folder),
    }


LR_RANGE_TEST = register(
    replace(
        IMAGE_CLASSIFICATION_MODEL,
        name="lr-range-test",
        title="Learning-rate range test",
        form_endpoint=None,  # started from the New Model form, not a form of its own
        details=range_test_details,
        page_template="models/lr_range_test.html",
        page_data=None,
        resume_point=None,
        trains=False,
    )
)


def batch_finder_details(job: Job, folder: Path) -> dict[str, Any]:
    """The sizes a largest-batch search tried on one GPU, the one it proposes per GPU, and the
    `batch_size` to give the form (the global batch: per GPU times the GPUs the form chose)."""
    found = batch_finder.read_result(folder)
    gpus = str(job.parameters.get(BATCH_FOR_GPUS, ""))
    gpus = int(gpus) if is_whole_number(gpus) and int(gpus) > 0 else 1
    suggested = found.get("suggested") if found else None
    return range_test_details(job, folder) | {
        "batch_finder": found,
        "batch_for_gpus": gpus,
        "suggested_batch_size": suggested * gpus if suggested else None,
    }


BATCH_FINDER = register(
    replace(
        LR_RANGE_TEST,
        name="batch-finder",
        title="Largest batch that fits",
        details=batch_finder_details,
        page_template="models/batch_finder.html",
    )
)
