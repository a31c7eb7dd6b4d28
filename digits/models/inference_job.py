"""Classify Many (and Top N, Infer Many): a model's answers for many images, as a job."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from digits import tasks
from digits.config import CPU_QUEUE
from digits.datasets.layout import read_info
from digits.files import read_regular
from digits.jobs.child import run_in_child
from digits.jobs.job import Job, JobFormatError
from digits.jobs.store import JobNotFound, JobStore
from digits.jobs.types import JobType, register
from digits.jobs.warm import WarmModule
from digits.models.job_parameters import options_of
from digits.models.options import inference_model
from digits.models.sandboxing import inference_confinement
from digits.paging import page_number, page_of

CLASSIFY_RESULTS = "results.json"  # written by digits.models.classify_many


def model_of(job: Job) -> str | None:
    """The model a Classify Many or Top N run classifies with."""
    return inference_model(job.parameters)


# What the page of an inference run shows of its parameters, in this order.
INFERENCE_PARAMETERS = (
    ("job_id", "Model"),
    ("snapshot_epoch", "Snapshot epoch (blank: the latest)"),
    ("image_list", "List of images"),
    ("image_archive", "Archive of images"),
    ("image_folder", "Image folder"),
    ("num_test_images", "Images classified at most"),
    ("top_n", "Top N: images shown per class"),
)


def classifications_details(job: Job, folder: Path) -> dict[str, Any]:
    """Classify Many's results: DIGITS' `classifications` ({path: [[label, percent]...]}), and
    ours (accuracy, per class, confusion matrix, Top N, lines that could not be read)."""
    model_id = model_of(job)
    try:
        results = json.loads(read_regular(folder / CLASSIFY_RESULTS))
    except (FileNotFoundError, ValueError):
        return {"model_id": model_id, "task": _task_of_model(folder.parent, model_id).name}
    # Results written before they named their task: a regression's hold its outputs' names.
    task = results.get("task") or ("regression" if "outputs" in results else "classification")
    answers = tasks.get(task).many_answers(results)
    return {"model_id": model_id, "task": task, **answers, "results": results}


def _task_of_model(jobs_dir: Path, model_id: str | None) -> tasks.Task:
    """The task of a model job in that jobs folder (a classifier's where it cannot be read)."""
    try:
        job = JobStore(jobs_dir).get(model_id or "")
    except (JobNotFound, JobFormatError):
        return tasks.get(tasks.DEFAULT_TASK)
    options = options_of(job)
    info = read_info(jobs_dir / options.dataset) if options and options.dataset else None
    return tasks.of_model(job.type, info)


IMAGES_PER_PAGE = 50  # rows of Classify Many's per-image table a page shows


def classifications_page_data(job: Job, folder: Path, args: Mapping[str, str]) -> dict[str, Any]:
    """A page of the per-image table (`page`); `show=wrong`: only the misclassified."""
    try:
        results = json.loads(read_regular(folder / CLASSIFY_RESULTS))
    except (FileNotFoundError, ValueError):
        return {}
    rows, labels = results["rows"], results.get("labels")
    wrong_only = args.get("show") == "wrong" and labels is not None
    if wrong_only:
        rows = [row for row in rows if misclassified(row, labels)]
    page = page_of(rows, page_number(args.get("page")), IMAGES_PER_PAGE)
    return {"images": page, "wrong_only": wrong_only}


def misclassified(row: dict[str, Any], labels: list[str]) -> bool:
    """A labelled image whose top prediction is another class."""
    return row["label"] is not None and row["predictions"][0][0] != labels[row["label"]]


IMAGE_CLASSIFICATION_INFERENCE = register(
    JobType(
        name="image-classification-inference",
        kind="model",
        queue=CPU_QUEUE,  # a long batch: never in the way of Classify One on queue infer
        run=run_in_child(
            WarmModule("digits.models.classify_many", "classify_many"),
            confine=inference_confinement,
        ),
        title="Classify Many",
        details=classifications_details,
        page_template="models/classifications.html",
        page_data=classifications_page_data,
        run_of=model_of,
        parameter_titles=INFERENCE_PARAMETERS,
    )
)
