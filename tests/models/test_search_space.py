"""A search's plan as the form writes it: the space line by line, each value checked against the
New Model form's own rules before any trial exists."""

import pytest

from digits.forms import FormErrors
from digits.models.search_space import (
    Dimension,
    fit_variants,
    form_value,
    parse_search_plan,
    parse_space,
)

BASE = {"model_name": "m", "dataset": "20250101-000000-abcd", "method": "standard"}


def plan_errors(**fields) -> list[str]:
    with pytest.raises(FormErrors) as refused:
        parse_search_plan(BASE | fields, "image-classification-model")
    return refused.value.errors["search_space"] if "search_space" in refused.value.errors else []


def test_ranges_take_the_scale_each_field_needs_and_lists_take_any_values():
    errors = {}
    space = parse_space(
        "learning_rate: 0.0001 .. 0.1\n"
        "# a comment, and a blank line\n\n"
        "train_epochs: 2..6\n"
        "aug_rot: 0 .. 30\n"
        "batch_size: 16 .. 256 linear\n"
        "solver_type: SGD, ADAM, SGD\n",
        errors,
    )
    assert errors == {}
    assert space == (
        Dimension("learning_rate", 0.0001, 0.1, log=True),
        Dimension("train_epochs", 2, 6, integer=True),
        Dimension("aug_rot", 0, 30),
        Dimension("batch_size", 16, 256, integer=True),
        Dimension("solver_type", choices=("SGD", "ADAM")),
    )
    assert [d.describe() for d in space[:2]] == [
        "learning_rate: 0.0001 .. 0.1 log",
        "train_epochs: 2 .. 6 linear",
    ]
    assert form_value(space[1], 3.0) == "3" and form_value(space[0], 0.0123456789) == "0.0123457"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("learning_rate 0.1", "write a field, a colon"),
        ("dataset: a, b", "dataset is the same for every trial"),
        ("custom_network: a, b", "custom_network is not a field a search can vary"),
        ("learning_rate: 0.1 .. 0.01", "a range needs low below high"),
        ("learning_rate: 0 .. 0.1", "a log scale starts above 0"),
        ("train_epochs: 1.5 .. 4", "a range of whole numbers"),
        ("solver_type: SGD .. ADAM", "solver_type takes a list of values"),
        ("solver_type: SGD", "two or more values"),
        ("learning_rate: 0.1 .. fast", "a range is low .. high"),
    ],
)
def test_a_line_that_is_not_a_search_is_named_with_its_number(line, message):
    errors = {}
    parse_space(f"learning_rate: 0.001, 0.01\n{line}", errors)
    [complaint] = errors["search_space"]
    assert complaint.startswith("line 2: ") and message in complaint


def test_every_end_of_a_range_and_every_listed_value_must_pass_the_form():
    errors = plan_errors(
        search_space="batch_size: 0 .. 64 linear\nsolver_type: SGD, LBFGS\naug_noise: 0 .. 3 linear"
    )
    assert errors == [
        "batch_size = 0: a whole number from 1 to 1000000",
        "solver_type = LBFGS: one of SGD, NESTEROV, ADAGRAD, RMSPROP, ADADELTA, ADAM, ADAMW",
        "aug_noise = 3: a number from 0 up to 1",
    ]
    assert plan_errors(search_space="") == [
        "name at least one field to search, like learning_rate: 0.001 .. 0.1"
    ]


def test_the_budget_is_bounded_and_never_runs_more_at_once_than_it_has():
    with pytest.raises(FormErrors) as refused:
        parse_search_plan(
            BASE | {"search_space": "learning_rate: 0.1, 0.01", "search_trials": "0"}, "x"
        )
    assert "search_trials" in refused.value.errors
    plan = parse_search_plan(
        BASE
        | {
            "search_space": "learning_rate: 0.1, 0.01",
            "search_trials": "3",
            "search_parallel": "8",
        },
        "x",
    )
    assert (plan.trials, plan.parallel, plan.sampler, plan.pruner) == (3, 3, "tpe", "median")
    assert "search_trials" not in plan.base and plan.trial_form({"learning_rate": "0.1"}) == (
        BASE | {"learning_rate": "0.1"}
    )


def test_the_fit_check_tries_every_network_and_both_ends_of_a_crop():
    plan = parse_search_plan(
        BASE
        | {
            "search_space": "learning_rate: 0.001 .. 0.1\nstandard_networks: lenet, alexnet\n"
            "crop_size: 16 .. 24"
        },
        "x",
    )
    assert fit_variants(plan) == [
        {"learning_rate": "0.001", "standard_networks": n, "crop_size": c}
        for n in ("lenet", "alexnet")
        for c in ("16", "24")
    ]
