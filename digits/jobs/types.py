"""The registry of job types: what a kind of job is called, where it runs, and how.

The dataset and model packages each register theirs; adding a job type is one `register` call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digits.registry import Registry

if TYPE_CHECKING:
    from digits.hardware.leases import GpuRequest
    from digits.jobs.context import JobContext
    from digits.jobs.job import Job

# The job types this package ships, imported by the server and every worker.
BUILTIN_MODULES = (
    "digits.datasets.job_type",
    "digits.models.job_type",
    "digits.models.search_job",
    "digits.models.inference_job",
    "digits.models.imported_job",
    "digits.models.infer_requests",
)


@dataclass(frozen=True)
class JobType:
    name: str
    kind: str  # "dataset" or "model": the home page tab it shows under
    queue: str  # "cpu" or "gpu"
    run: Callable[[JobContext], None]
    title: str = ""
    # The endpoint of the creation form, so that Clone can open it prefilled.
    form_endpoint: str | None = None
    # What the type adds to the job's JSON and page: details(job, folder) -> dict, and a
    # template included in the job page with that dict as `extra`.
    details: Callable[[Job, Path], dict[str, Any]] | None = None
    page_template: str | None = None
    # What that template draws from beyond the JSON (long histories, a page of a long list):
    # page_data(job, folder, the page's address arguments) -> dict, read by the view and handed
    # to the template as `page_data`.
    page_data: Callable[[Job, Path, Mapping[str, str]], dict[str, Any]] | None = None
    # What must finish first: waiting_on(job, store) -> (reason to wait, reason to fail) or None.
    waiting_on: Callable[[Job, Any], tuple[str | None, str | None] | None] | None = None
    # The jobs this one uses (a model its dataset): depends_on(job) -> their ids. A job that
    # others use is not deleted.
    depends_on: Callable[[Job], list[str]] | None = None
    # The GPUs a job leases before it starts: gpu_request(job) -> GpuRequest. None: no GPUs.
    gpu_request: Callable[[Job], GpuRequest] | None = None
    # Where a new run of a stopped job would start (resume_point(job, folder) -> "epoch 3",
    # say), or None if it cannot go on: what Resume and recovery after a lost worker use.
    resume_point: Callable[[Job, Path], str | None] | None = None
    # An inference run of a model: run_of(job) -> the model's id. It is listed under Inference
    # runs and on its model's page, not among the models.
    run_of: Callable[[Job], str | None] | None = None
    # A training, with curves and a best epoch: what Compare puts side by side.
    trains: bool = False
    # What the job page's Parameters table shows: (field, title) pairs in order; None: every
    # field under its own name.
    parameter_titles: tuple[tuple[str, str], ...] | None = None


class UnknownJobType(LookupError):
    """A job type this process has not loaded (a plugin's, not installed here)."""


def _cannot_run(ctx: JobContext) -> None:
    raise UnknownJobType(f"this worker does not know job type {ctx.job.type!r}")


_registry: Registry[JobType] = Registry("job type", UnknownJobType)


def register(job_type: JobType) -> JobType:
    """Add a job type; a second type of the same name is a mistake, not a replacement."""
    return _registry.add(job_type)


def get(name: str) -> JobType:
    """The job type of that name, to submit or run a job of it (UnknownJobType if none)."""
    return _registry.get(name)


def of(job: Job) -> JobType:
    """A stored job's type; for a type not loaded here (a plugin's, since removed), one that
    does nothing: the job is listed, shown and deleted as it is, never run or resumed."""
    return _registry.find(job.type) or JobType(job.type, job.kind, "", _cannot_run)


def all_types() -> list[JobType]:
    return _registry.values()


def load_plugins(module_names: tuple[str, ...]) -> list:
    """Import the built-in job types and the configured plugins; they register on import."""
    return [importlib.import_module(name) for name in BUILTIN_MODULES + module_names]
