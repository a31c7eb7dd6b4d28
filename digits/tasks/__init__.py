"""Kinds of problem: what varies between classification, regression and the tasks to come.

A `Task` holds every fact about one kind of problem that the rest of the program asks for: what
a model's outputs are named, its one primary metric and direction (the only judge of "best":
snapshot pruning, early stopping, the model JSON, Compare and search all ask it), its model
job type, what its answers look like, and (in its own `training` module, imported only where
torch is) its loss and evaluation. The trainer, the job types, the routes and the pages ask the
task; none of them tests which task it is.

Each task lives in a package of its own under `digits/tasks/` (a plugin's may live anywhere)
and registers itself on import, as job types do. This module imports neither torch nor Flask:
the web process reads these facts too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digits.config import load_settings
from digits.registry import Registry

# The tasks this package ships, imported with the job types (digits.jobs.types.load_plugins).
BUILTIN_MODULES = ("digits.tasks.classification", "digits.tasks.regression")


# DIGITS' two model routes (job types): /models/images/classification and /models/images/generic.
# A task trains its models under one of them; every task but classification uses the generic.
CLASSIFICATION_MODEL_TYPE = "image-classification-model"
GENERIC_MODEL_TYPE = "image-generic-model"


DEFAULT_TASK = "classification"  # DIGITS' first and an imported model's


class UnknownTask(LookupError):
    """A task name no registered task has (a dataset made by a plugin not loaded here)."""


@dataclass(frozen=True)
class Metric:
    """A validation figure (`key` in a metrics row) and which way is better."""

    key: str
    direction: str  # "max" or "min"
    title: str  # as a sentence names it: "validation top-1", "validation loss"
    unit: str = ""
    format: str = ".4g"  # how a value is written in a sentence
    short: str = ""  # before a value, where the title is too long: "top-1 90.0%"

    def better(self, value: float, than: float | None) -> bool:
        if than is None:
            return True
        return value > than if self.direction == "max" else value < than

    def best_row(self, rows: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
        """The row with the best value of this metric (the first of equals), or None."""
        best = None
        for row in rows:
            value = row.get(self.key)
            if value is not None and (best is None or self.better(value, best[self.key])):
                best = row
        return best

    def best_value(self, values: Iterable[float]) -> float | None:
        pick = max if self.direction == "max" else min
        return pick(values, default=None)

    @property
    def optuna_direction(self) -> str:
        return "maximize" if self.direction == "max" else "minimize"

    def describe(self, value: float) -> str:
        return f"{self.short or self.title} {value:{self.format}}{self.unit}"

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "direction": self.direction, "title": self.title}


@dataclass(frozen=True)
class RecordView:
    """How Explore shows a record's label: a caption under the image, and what its JSON adds."""

    caption: Callable[[int], str]
    details: Callable[[int], dict[str, Any]] = lambda label: {}


class Task:
    """One kind of problem. Subclasses set the class attributes and override what differs."""

    name: str  # as stored in a dataset's info.json and a model's info
    title: str  # as the pages name it
    metric: Metric  # the one judge of "best"
    # The dataset job type that makes its datasets, and the model job type its models train
    # under (the route of DIGITS' form for them).
    dataset_type: str
    model_type: str = GENERIC_MODEL_TYPE
    # The module (imported only where torch is) whose `TaskTraining` holds the loss and the
    # evaluation: see digits.tasks.training.
    training_module: str
    # The module (imported only on workers) with `answer_one` and `Tally` for Classify
    # One/Many: see digits.tasks.inference.
    inference_module: str
    # What the model's outputs are: "probabilities" (softmax of the network's) or "outputs"
    # (the network's own values); also the exported models' output name.
    output_name: str = "outputs"
    # How the download's README names a model, its labels and its answers.
    model_kind: str = "a model"
    label_kind: str = "output names"
    # Whether the model page follows probe images through the training (a classifier's).
    follows_probes: bool = False
    # What the network's outputs go through to be the answer: "softmax" or None (as they are).
    final_activation: str | None = None
    # The folder of its page views, found by the pages as "<task name>/<view>.html":
    # answer.html (Classify One's answer, `answer` in it) and many.html (a Classify Many run's
    # results, `job` holding the run's JSON).
    templates: Path | None = None
    # A script of its own that the download carries as `example.py` (run from the unpacked
    # archive: `python example.py IMAGE...`); None: the checkout's examples/classification.
    example_script: Path | None = None
    # The label of Classify Many's list field on the model page.
    list_help: str = "A list of images (a path a line)"

    @property
    def generic(self) -> bool:
        """Whether its models use DIGITS' generic routes (Infer One/Many, the generic form)."""
        return self.model_type == GENERIC_MODEL_TYPE

    def labels_of(self, info) -> list[str]:
        """What a model of a dataset (its DatasetInfo) names its outputs: one per output."""
        return list(info.labels)

    def dataset_details(self, info, folder: Path) -> dict[str, Any]:
        """What this task adds to a dataset's JSON and page (its statistics)."""
        return {}

    def record_view(self, info, folder: Path, split: str) -> RecordView:
        """How Explore names a record of that split (its class, its values)."""
        return RecordView(lambda label: info.labels[label])

    def model_details(self, info, options) -> dict[str, Any]:
        """What this task adds to a model's JSON (DIGITS' keys where DIGITS had them)."""
        return {}

    def compare_columns(self) -> tuple[tuple[str, str, str], ...]:
        """Compare's columns of a model's best validation: (key, heading, format)."""
        return ((self.metric.key, f"Best {self.metric.title}", "%.4g"),)

    def compare_chart(self) -> tuple[str, str]:
        """Compare's chart of a score by epoch: (key, title)."""
        return self.metric.key, self.metric.title

    def describe_outputs(self, details: Mapping[str, Any]) -> str:
        """What the model page says a model predicts, from its JSON: "3 classes", say."""
        return self.counted(len(details.get("labels") or ()))

    def describe_best(self, row: Mapping[str, Any]) -> str:
        """The model page's figures of its best validation."""
        return f"val loss {row['val_loss']:.4f}, {self.metric.describe(row[self.metric.key])}"

    def many_json(self, detail: Mapping[str, Any], top_n: bool) -> dict[str, Any]:
        """What the JSON answer of Classify/Infer Many adds from its run's JSON `detail`."""
        return {"outputs": detail.get("outputs")}

    def answers_described(self, count: int) -> str:
        """What the exported model answers, for the download's README."""
        return f"its {count} outputs (N x {count})"

    def counted(self, count: int) -> str:
        return f"{count} outputs"

    def many_answers(self, results: Mapping[str, Any]) -> dict[str, Any]:
        """DIGITS' keys for Classify/Infer Many's answer, from the run's results."""
        return {"outputs": {row["path"]: {"output": row["output"]} for row in results["rows"]}}

    def training(self):
        """The task's training module (imports torch)."""
        return importlib.import_module(self.training_module)

    def inference(self):
        """The task's inference module (imports numpy; torch where it runs models)."""
        return importlib.import_module(self.inference_module)


_registry: Registry[Task] = Registry("task", UnknownTask)


def register(task: Task) -> Task:
    """Add a task; a second task of the same name is a mistake, not a replacement."""
    return _registry.add(task)


def get(name: str) -> Task:
    """The task of that name. A process that meets one it has not loaded (a trainer, a
    sandboxed child) imports the built-in tasks and the configured plugins first."""
    if name not in _registry:
        load()
    if name not in _registry:
        load(load_settings().plugins)
    return _registry.get(name)


def all_tasks() -> list[Task]:
    load()
    return _registry.values()


def of_dataset(info) -> Task:
    """The task a dataset (its DatasetInfo) was made for."""
    return get(info.task)


def of_dataset_type(dataset_type: str) -> Task | None:
    """The task whose datasets that job type makes (None: no task's, a plugin's job)."""
    load()
    return next((task for task in _registry.values() if task.dataset_type == dataset_type), None)


def of_model(model_type: str, info=None) -> Task:
    """The task of a model: its dataset's (its DatasetInfo), or where that cannot be read (a
    dataset folder written by hand), DIGITS' own task of the model's route: the first task
    registered for it (classification, or regression for the generic route)."""
    if info is not None:
        return of_dataset(info)
    load()
    known = (task for task in _registry.values() if task.model_type == model_type)
    return next(known, None) or get(DEFAULT_TASK)


def load(plugins: Iterable[str] = ()) -> None:
    """Import the built-in tasks and the plugins (a plugin module registers its task)."""
    for name in (*BUILTIN_MODULES, *plugins):
        importlib.import_module(name)
