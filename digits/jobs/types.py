"""The registry of job types: what a kind of job is called, where it runs, and how.

The dataset and model packages each register theirs; adding a job type is one `register` call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digits.jobs.runner import JobContext


@dataclass(frozen=True)
class JobType:
    name: str
    kind: str  # "dataset" or "model": the home page tab it shows under
    queue: str  # "cpu" or "gpu"
    run: Callable[[JobContext], None]
    title: str = ""
    # The endpoint of the creation form, so that Clone can open it prefilled.
    form_endpoint: str | None = None


_registry: dict[str, JobType] = {}


def register(job_type: JobType) -> JobType:
    _registry[job_type.name] = job_type
    return job_type


def get(name: str) -> JobType | None:
    return _registry.get(name)


def all_types() -> list[JobType]:
    return list(_registry.values())


def load_plugins(module_names: tuple[str, ...]) -> list:
    """Import the configured plugin modules, which register their job types on import."""
    import importlib

    return [importlib.import_module(name) for name in module_names]
