"""A New Model form checked before any job exists, without the web (digits.models.submission)."""

from digits.jobs.store import JobStore
from digits.models import submission
from tests.support.model_forms import done_dataset, model_fields


def test_every_problem_of_a_form_is_found_at_once_without_a_web_request(tmp_path):
    store = JobStore(tmp_path / "jobs")
    dataset = done_dataset(store)  # 28x28 images, no validation set
    form = model_fields(dataset, crop_size="40", probe_records="1", train_epochs="0")
    options, info, errors = submission.check(form, False, store, hosts={})
    assert options is None and info.image.width == 28
    assert set(errors) == {"crop_size", "train_epochs"}
    options, _, errors = submission.check(
        model_fields(dataset, probe_records="1"), False, store, {}
    )
    assert errors == {"probe_records": ["the dataset has no validation images to follow"]}
    _, _, errors = submission.check(model_fields(dataset), True, store, {})
    assert "is not a generic (Other) dataset" in errors["dataset"][0]


def test_a_sweep_is_one_form_per_combination_named_after_what_varies():
    forms, errors = submission.sweep({"model_name": "m", "learning_rate": "0.1, 0.01"})
    assert errors == {} and [f["model_name"] for f in forms] == [
        "m (learning rate 0.1)",
        "m (learning rate 0.01)",
    ]
