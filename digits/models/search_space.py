"""A hyperparameter search's plan, read from the search form: which fields of the New Model form
vary and over what (the search space), how many trials, how many at once, how trials are chosen
and which are stopped early. Free of Optuna and torch: the web process checks a plan with it,
and the search job (digits.models.search) samples from it.

The space is written one field per line, in the New Model form's field names:

    learning_rate: 0.0001 .. 0.1        a range: a rate on a log scale, by default
    batch_size: 16, 32, 64              a list: one of these
    train_epochs: 2 .. 6                a whole-number field ranges over whole numbers
    aug_rot: 0 .. 30 linear             `log` or `linear` after a range says which scale
    solver_type: SGD, ADAM              any field of the form, as a list of its values
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from digits.forms import (
    Errors,
    FormErrors,
    add_error,
    choice_field,
    int_field,
    optional_int_field,
)
from digits.models.fields import FIELDS
from digits.models.options import parse_training_options, split_list

SPACE_FIELD = "search_space"
NOT_RANGES = ("select_gpu_count", "probe_images", "snapshot_keep")
MAX_TRIALS = 200
MAX_PARALLEL = 32
MAX_DIMENSIONS = 12
MAX_CHOICES = 50
SAMPLERS = {
    "tpe": "Model-based (TPE: tries more of what scored well)",
    "random": "Random",
}
PRUNERS = {
    "median": "Median: stop a trial behind the median of earlier ones at the same epoch",
    "halving": "Successive halving: keep the best third at each rung",
    "none": "None: train every trial to the end",
}

# The fields a range may cover: whether they are whole numbers, and whether a range of them is
# searched on a log scale unless the line says otherwise (rates and batch sizes span decades):
# the declared numbers of the form, bar those that name a choice by number.
RANGES: dict[str, tuple[bool, bool]] = {
    name: (field.kind == "int", field.log_scale)
    for name, field in FIELDS.items()
    if field.kind in ("int", "float") and name not in NOT_RANGES
}
# The fields a list may cover besides those: the form's choices, and its switches.
CHOICES = (
    "solver_type",
    "standard_networks",
    "lr_policy",
    "use_mean",
    "aug_flip",
    "aug_quad_rot",
    "aug_hsv_use",
    "loss",
    "shuffle",
    "use_bf16",
    "pretrained_weights",
)
# What no search may vary: what the trials are (a search trains one dataset, by one method).
FIXED = ("dataset", "method", "model_name", "group_name")


@dataclass(frozen=True)
class Dimension:
    """One field the search varies: over [low, high] (on a log scale or not), or a list."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.choices:
            return f"{self.name}: {', '.join(self.choices)}"
        scale = "log" if self.log else "linear"
        return f"{self.name}: {self.low:g} .. {self.high:g} {scale}"

    def ends(self) -> list[str]:
        """Values that stand for the whole dimension when a form is checked: both ends of a
        range (what lies between passes where they do), every value of a list."""
        if self.choices:
            return list(self.choices)
        return [form_value(self, self.low), form_value(self, self.high)]


def form_value(dimension: Dimension, value: Any) -> str:
    """A sampled value as the form's field holds it."""
    if dimension.integer:
        return str(int(round(float(value))))
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@dataclass(frozen=True)
class SearchPlan:
    dimensions: tuple[Dimension, ...]
    trials: int = 16
    parallel: int = 2
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int | None = None
    # The model job type each trial is (classification, or generic on a generic dataset).
    model_type: str = "image-classification-model"
    base: dict[str, Any] = field(default_factory=dict)

    def trial_form(self, values: dict[str, str]) -> dict[str, Any]:
        """The New Model form of one trial: the search's form, the trial's values in it."""
        return {**self.base, **values}


def parse_space(text: str, errors: Errors) -> tuple[Dimension, ...]:
    """The space as written, line by line; each problem under `search_space`, by line."""
    dimensions: list[Dimension] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        dimension = _dimension(line, lambda message, n=number: _line_error(errors, n, message))
        if dimension is None:
            continue
        if any(d.name == dimension.name for d in dimensions):
            _line_error(errors, number, f"{dimension.name} is already searched above")
            continue
        dimensions.append(dimension)
    if not dimensions and SPACE_FIELD not in errors:
        add_error(
            errors,
            SPACE_FIELD,
            "name at least one field to search, like learning_rate: 0.001 .. 0.1",
        )
    if len(dimensions) > MAX_DIMENSIONS:
        add_error(errors, SPACE_FIELD, f"at most {MAX_DIMENSIONS} fields")
    return tuple(dimensions)


def _line_error(errors: Errors, number: int, message: str) -> None:
    add_error(errors, SPACE_FIELD, f"line {number}: {message}")


def _dimension(line: str, error) -> Dimension | None:
    name, colon, spec = (part.strip() for part in line.partition(":"))
    if not colon or not name or not spec:
        error("write a field, a colon and its range or values, like batch_size: 16, 32, 64")
        return None
    if name in FIXED:
        error(f"{name} is the same for every trial: set it on the form")
        return None
    if name not in RANGES and name not in CHOICES:
        error(
            f"{name} is not a field a search can vary; these can: {', '.join([*RANGES, *CHOICES])}"
        )
        return None
    if ".." in spec:
        return _range(name, spec, error)
    choices = tuple(dict.fromkeys(split_list(spec)))
    if len(choices) < 2:
        error(f"{name}: give a range (low .. high) or two or more values separated by commas")
        return None
    if len(choices) > MAX_CHOICES:
        error(f"{name}: at most {MAX_CHOICES} values")
        return None
    return Dimension(name, choices=choices)


def _range(name: str, spec: str, error) -> Dimension | None:
    if name not in RANGES:
        error(f"{name} takes a list of values, not a range")
        return None
    integer, log = RANGES[name]
    words = spec.replace("..", " .. ").split()
    if words[-1] in ("log", "linear"):
        log = words.pop() == "log"
    try:
        low_text, dots, high_text = words
        low, high = float(low_text), float(high_text)
    except ValueError:
        error(f"{name}: a range is low .. high, optionally followed by log or linear")
        return None
    if dots != ".." or not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        error(f"{name}: a range needs low below high")
        return None
    if integer and not (low.is_integer() and high.is_integer()):
        error(f"{name}: a range of whole numbers")
        return None
    if log and low <= 0:
        error(f"{name}: a log scale starts above 0 (or write linear)")
        return None
    return Dimension(name, low, high, log, integer)


def parse_search_plan(form: dict[str, Any], model_type: str) -> SearchPlan:
    """The search's plan; FormErrors naming each problem (see check_search_plan)."""
    plan, errors = check_search_plan(form, model_type)
    if errors:
        raise FormErrors(errors)
    return plan


def check_search_plan(form: dict[str, Any], model_type: str) -> tuple[SearchPlan, Errors]:
    """The search's settings and space, every value of it checked against the New Model form's
    rules (both ends of each range, each listed value), and each problem found: the plan holds
    what could be read, so that the caller's own checks run on it too."""
    errors: Errors = {}
    dimensions = parse_space(str(form.get(SPACE_FIELD, "") or ""), errors)
    trials = int_field(form, "search_trials", 16, errors, 1, MAX_TRIALS)
    parallel = int_field(form, "search_parallel", 2, errors, 1, MAX_PARALLEL)
    plan = SearchPlan(
        dimensions=dimensions,
        trials=trials or 1,
        parallel=min(parallel or 1, trials or 1),
        sampler=choice_field(form, "search_sampler", SAMPLERS, "tpe", errors),
        pruner=choice_field(form, "search_pruner", PRUNERS, "median", errors),
        seed=optional_int_field(form, "search_seed", errors, 0, 2**31 - 1),
        model_type=model_type,
        base={k: v for k, v in form.items() if not k.startswith("search_")},
    )
    for dimension in dimensions:
        for value in dimension.ends():
            _check_value(plan, dimension, value, errors)
    return plan, errors


def _check_value(plan: SearchPlan, dimension: Dimension, value: str, errors: Errors) -> None:
    """The form with this one value must pass; its own field's complaint is the space's."""
    try:
        parse_training_options(plan.trial_form({dimension.name: value}))
    except FormErrors as exc:
        for message in exc.errors.get(dimension.name, []):
            add_error(errors, SPACE_FIELD, f"{dimension.name} = {value}: {message}")


# The fields that decide whether a network fits the dataset's images.
SHAPING = ("standard_networks", "crop_size")


def fit_variants(plan: SearchPlan) -> list[dict[str, str]]:
    """The trials' forms that the fit check must try: every network listed and both ends of
    a crop range, every other field at its first value."""
    first = {d.name: d.ends()[0] for d in plan.dimensions}
    shaping = [d for d in plan.dimensions if d.name in SHAPING]
    variants = [first]
    for dimension in shaping:
        variants = [v | {dimension.name: end} for v in variants for end in dimension.ends()]
    return variants
