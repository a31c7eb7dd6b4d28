"""The hyperparameter search job type: Optuna on a CPU worker, its trials model jobs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from digits.config import CPU_QUEUE
from digits.files import read_regular
from digits.jobs.context import JobContext
from digits.jobs.job import Job
from digits.jobs.types import JobType, register
from digits.models.job_parameters import dataset_ready, uses
from digits.models.job_type import range_test_details
from digits.models.layout import (
    SEARCH_STUDY_FILE,
    SEARCH_SUMMARY_FILE,
)


def search_details(job: Job, folder: Path) -> dict[str, Any]:
    """A search's trials, their scores and the best so far (digits.models.search writes them)."""
    try:
        summary = json.loads(read_regular(folder / SEARCH_SUMMARY_FILE))
    except (FileNotFoundError, ValueError):
        summary = None
    return range_test_details(job, folder) | {"search": summary}


def run_search(ctx: JobContext) -> None:
    """The search's loop, on a CPU worker (Optuna is imported there, never in the web process)."""
    from digits.models.search import run_search as run

    run(ctx)


def search_resume_point(job: Job, folder: Path) -> str:
    """A search goes on from its study: its finished trials count, its stopped ones resume."""
    if (folder / SEARCH_STUDY_FILE).exists():
        return "its trials so far (those stopped with it resume)"
    return "its first trial"


MODEL_SEARCH = register(
    JobType(
        name="model-search",
        kind="model",
        queue=CPU_QUEUE,  # it holds no GPU: it submits the trials, which wait for theirs
        run=run_search,
        title="Hyperparameter search",
        details=search_details,
        page_template="models/search.html",
        waiting_on=dataset_ready,
        depends_on=uses,
        resume_point=search_resume_point,
    )
)
