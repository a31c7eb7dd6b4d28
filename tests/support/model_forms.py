"""Jobs as the web tests need them (a Done dataset to train on, a model job folder) and the New
Model form's fields."""

from digits.datasets.layout import DatasetInfo, ImageFormat, write_info
from digits.jobs.job import Job, new_job_id
from digits.jobs.status import Status

MODELS = "/models/images/classification.json"


QUEUES = {"dataset": "cpu", "model": "gpu"}


def new_job(kind: str, owner: str = "fred", **parameters) -> Job:
    """A job of the real image-classification type of `kind` (dataset or model), not stored."""
    return Job(
        id=new_job_id(),
        type=f"image-classification-{kind}",
        kind=kind,
        name=kind[0],
        owner=owner,
        queue=QUEUES[kind],
        parameters=parameters,
    )


def stored_job(store, kind: str, status: Status = Status.DONE, **fields) -> Job:
    """A job folder of that type and status, as if it had run (nothing in it but job.json)."""
    job = new_job(kind, **fields)
    job.set_status(status)
    store.create(job)
    return job


def done_dataset(store) -> str:
    """A Done dataset job folder with an info.json (28x28 gray images, 3 classes)."""
    job = stored_job(store, "dataset")
    image = ImageFormat(width=28, height=28, channels=1, resize_mode="squash", encoding="png")
    write_info(store.folder(job.id), DatasetInfo(labels=["a", "b", "c"], image=image))
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
