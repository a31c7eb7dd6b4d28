"""The New Model form as the web tests fill it: a Done dataset to train on, and its fields."""

import json

from digits.jobs.job import Job, new_job_id
from digits.jobs.status import Status

MODELS = "/models/images/classification.json"


def done_dataset(store) -> str:
    """A Done dataset job folder with an info.json (28x28 gray images, 3 classes)."""
    job = Job(
        id=new_job_id(),
        type="image-classification-dataset",
        kind="dataset",
        name="d",
        owner="fred",
        queue="cpu",
    )
    job.set_status(Status.DONE)
    folder = store.create(job)
    info = {
        "labels": ["a", "b", "c"],
        "image": {
            "width": 28,
            "height": 28,
            "channels": 1,
            "resize_mode": "squash",
            "encoding": "png",
        },
        "splits": {},
        "skipped": [],
        "messages": [],
    }
    (folder / "info.json").write_text(json.dumps(info))
    return job.id


def model_fields(dataset_id, **overrides):
    fields = {
        "method": "standard",
        "standard_networks": "lenet",
        "model_name": "m",
        "dataset": dataset_id,
        "train_epochs": "2",
    }
    return {**fields, **overrides}


def errors_of(response):
    assert response.status_code == 400, response.data
    return response.get_json()["errors"]
