"""The model job type as the job system sees it: what a model uses, read from its options."""

import pytest

from digits.jobs.control import JobInUse
from digits.jobs.job import Job, new_job_id
from digits.jobs.status import Status
from digits.models.job_type import gpu_request, options_of, uses
from tests.support.model_forms import done_dataset, model_fields


def model_job(store, **fields) -> Job:
    job = Job(
        id=new_job_id(),
        type="image-classification-model",
        kind="model",
        name="m",
        owner="fred",
        queue="gpu",
        parameters=fields,
    )
    job.set_status(Status.DONE)
    store.create(job)
    return job


def test_a_model_uses_its_dataset_and_the_model_it_was_fine_tuned_from(app):
    control = app.extensions["digits"].control
    dataset = done_dataset(control.store)
    base = model_job(control.store, **model_fields(dataset))
    tuned = model_job(
        control.store, **model_fields(dataset, method="previous", previous_networks=base.id)
    )
    assert uses(base) == [dataset] and uses(tuned) == [dataset, base.id]
    with pytest.raises(JobInUse, match=tuned.id):
        control.delete(base.id)  # the fine-tuned model's network starts from its snapshot
    control.delete(tuned.id)
    control.delete(base.id)


def test_the_gpu_request_comes_from_the_options():
    job = Job(
        id=new_job_id(),
        type="image-classification-model",
        kind="model",
        name="m",
        owner="fred",
        queue="gpu",
        parameters=model_fields("20250101-000000-abcd", select_gpus="3,1,3"),
    )
    assert gpu_request(job).indexes == (1, 3)
    broken = Job(
        id=new_job_id(),
        type="image-classification-model",
        kind="model",
        name="m",
        owner="fred",
        queue="gpu",
        parameters={"method": "nonsense"},
    )
    assert options_of(broken) is None and uses(broken) == [] and gpu_request(broken).size == 1
