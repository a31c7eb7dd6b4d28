"""What every model job reads of its parameters: the options (the one reader of the raw form),
the GPUs it leases, the jobs it uses, whether its dataset is ready."""

from __future__ import annotations

from digits.forms import FormErrors
from digits.hardware.leases import GpuRequest
from digits.jobs.job import Job
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound
from digits.models.options import (
    TrainingOptions,
    parse_training_options,
)


def options_of(job: Job) -> TrainingOptions | None:
    """A model job's parameters, as the options parser reads them: the one reader of the raw
    form. None for parameters that do not parse (they did when the job was submitted: a job
    folder written by hand, or by another version)."""
    try:
        return parse_training_options(job.parameters)
    except FormErrors:
        return None


def gpu_request(job: Job) -> GpuRequest:
    """The GPUs chosen on the form (`select_gpus`), or else any `select_gpu_count` of them."""
    return gpu_request_of(options_of(job))


def gpu_request_of(options: TrainingOptions | None) -> GpuRequest:
    if options is None:
        return GpuRequest((), 1)
    return GpuRequest(tuple(sorted(set(options.gpus))), options.gpu_count, options.host_gpus)


def uses(job: Job) -> list[str]:
    """A model uses its dataset, and when fine-tuned the model it started from."""
    options = options_of(job)
    if options is None:
        return []
    return [options.dataset] + ([options.starts_from] if options.starts_from else [])


def dataset_ready(job: Job, store) -> tuple[str | None, str | None] | None:
    """A model waits while its dataset is not Done, and fails if the dataset failed."""
    options = options_of(job)
    if options is None:
        return None, "the model's parameters are not ones this version can read"
    dataset_id = options.dataset
    try:
        dataset = store.get(dataset_id)
    except JobNotFound:
        return None, f"dataset {dataset_id} does not exist (any more)"
    if dataset.status is Status.DONE:
        return None
    if dataset.status.is_terminal:
        return None, f"dataset {dataset.name} ({dataset_id}) ended {dataset.status.label}"
    return f"waiting for dataset {dataset.name} to be Done", None
