"""What a worker does with a job (digits.jobs.runner), run in this process through the real
Celery task (eagerly, no worker): how each way of ending is recorded, and messages that are no
longer the job's are dropped."""

import pytest

from digits.config import RUN_JOB_TASK
from digits.jobs.status import Status
from tests.support.countdown_job import TYPES
from tests.support.model_forms import model_fields, stored_job


@pytest.fixture
def services(app):
    return app.extensions["digits"]


def run(services, job_id, task_id=None):
    task = services.control.celery.tasks[RUN_JOB_TASK]
    result = task.apply(args=[job_id], task_id=task_id or services.store.get(job_id).task_id)
    assert result.successful(), result.traceback
    return services.store.get(job_id)


def submitted(services, **parameters):
    return services.control.submit(TYPES["dataset"], "count", "fred", parameters | {"delay": "0"})


def test_a_job_that_runs_to_its_end_is_done_with_its_progress_full(services):
    job = run(services, submitted(services, steps="3").id)
    assert (job.status, job.progress) == (Status.DONE, 1.0)
    assert [change.status for change in job.status_history] == [
        Status.INIT,
        Status.WAIT,
        Status.RUN,
        Status.DONE,
    ]


def test_a_job_that_fails_ends_error_with_its_reason(services):
    job = run(services, submitted(services, steps="3", fail_at="1").id)
    assert (
        job.status is Status.ERROR and job.status_reason == "ValueError: failed at step 1 as asked"
    )


def test_a_message_a_newer_task_replaced_is_dropped(services):
    job = submitted(services, steps="2")
    assert run(services, job.id, task_id="an-older-task").status is Status.WAIT


def test_an_aborted_queued_job_is_not_started(services):
    job = submitted(services, steps="2")
    services.control.abort(job.id)
    assert run(services, job.id).status is Status.ABORT


def test_a_model_whose_dataset_is_gone_fails_with_the_reason(services):
    model = stored_job(services.store, "model", Status.WAIT, **model_fields("20250101-000000-0000"))
    services.store.update(model.id, lambda job: setattr(job, "task_id", "t1") or job)
    ended = run(services, model.id, task_id="t1")
    assert ended.status is Status.ERROR and "does not exist" in ended.status_reason
