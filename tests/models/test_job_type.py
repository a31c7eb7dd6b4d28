"""The model job type as the job system sees it: what a model uses, read from its options."""

import pytest

from digits.jobs.control import JobInUse
from digits.models.job_parameters import gpu_request, options_of, uses
from tests.support.model_forms import done_dataset, model_fields, new_job, stored_job


def test_a_model_uses_its_dataset_and_the_model_it_was_fine_tuned_from(app):
    control = app.extensions["digits"].control
    dataset = done_dataset(control.store)
    base = stored_job(control.store, "model", **model_fields(dataset))
    fine_tuning = model_fields(dataset, method="previous", previous_networks=base.id)
    tuned = stored_job(control.store, "model", **fine_tuning)
    assert uses(base) == [dataset] and uses(tuned) == [dataset, base.id]
    with pytest.raises(JobInUse, match=tuned.id):
        control.delete(base.id)  # the fine-tuned model's network starts from its snapshot
    control.delete(tuned.id)
    control.delete(base.id)


def test_the_gpu_request_comes_from_the_options():
    job = new_job("model", **model_fields("20250101-000000-abcd", select_gpus="3,1,3"))
    assert gpu_request(job).indexes == (1, 3)
    broken = new_job("model", method="nonsense")
    assert options_of(broken) is None and uses(broken) == [] and gpu_request(broken).size == 1
