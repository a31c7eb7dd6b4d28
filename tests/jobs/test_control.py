"""What the web asks of the job system (digits.jobs.control), on the embedded broker with no
worker: a job exists in its folder before its task is queued, and every change is a status."""

import json

import pytest

from digits.jobs.control import JobFinished, JobInUse, JobNotDone
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound
from tests.support.countdown_job import TYPES
from tests.support.model_forms import done_dataset, model_fields, stored_job


@pytest.fixture
def services(app):
    return app.extensions["digits"]


def queued_tasks(settings) -> list[dict]:
    """The tasks waiting in the embedded broker's queue folder, as a worker would take them."""
    folder = settings.broker_dir / "queue"
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.msg"))]


def test_a_submitted_job_waits_in_its_folder_with_its_task_queued(services):
    job = services.control.submit(TYPES["dataset"], "count", "fred", {"steps": "3"})
    assert job.status is Status.WAIT and (services.store.folder(job.id) / "job.json").exists()
    [task] = queued_tasks(services.settings)
    assert task["headers"]["id"] == job.task_id and job.id in task["headers"]["argsrepr"]


def test_a_failed_preparation_leaves_no_job_behind(services):
    def prepare(folder):
        (folder / "upload").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        services.control.submit(TYPES["dataset"], "count", "fred", {}, prepare=prepare)
    assert services.store.list() == [] and queued_tasks(services.settings) == []


def test_abort_ends_a_queued_job_at_once_and_refuses_an_ended_one(services):
    job = services.control.submit(TYPES["dataset"], "count", "fred", {})
    aborted = services.control.abort(job.id)
    assert aborted.status is Status.ABORT and aborted.status_reason == "aborted before it started"
    with pytest.raises(JobFinished):
        services.control.abort(job.id)


def test_a_dataset_in_use_is_not_deleted_until_its_models_are(services):
    dataset = done_dataset(services.store)
    model = stored_job(services.store, "model", **model_fields(dataset))
    with pytest.raises(JobInUse, match=model.id):
        services.control.delete(dataset)
    services.control.delete(model.id)
    services.control.delete(dataset)
    with pytest.raises(JobNotFound):
        services.store.get(dataset)


def test_rerun_is_for_done_jobs_and_starts_from_no_progress(services):
    running = stored_job(services.store, "dataset", Status.RUN)
    with pytest.raises(JobNotDone):
        services.control.rerun(running.id, lambda job: None, "again")
    done = stored_job(services.store, "dataset")
    again = services.control.rerun(done.id, lambda job: job.parameters.update(n=2), "add")
    assert (again.status, again.progress, again.parameters["n"]) == (Status.WAIT, 0.0, 2)
    assert [t["headers"]["id"] for t in queued_tasks(services.settings)] == [again.task_id]


def test_a_clone_is_a_new_waiting_job_of_the_same_type_and_parameters(services):
    original = services.control.submit(TYPES["dataset"], "count", "fred", {"steps": "5"})
    clone = services.control.clone(original.id, "wilma")
    assert (clone.name, clone.owner, clone.parameters) == ("count (clone)", "wilma", {"steps": "5"})
    assert clone.id != original.id and clone.status is Status.WAIT
