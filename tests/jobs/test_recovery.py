"""Running a job again (digits.jobs.recovery): a user's Resume, and the recovery of a job whose
worker or process died, bounded by max_restarts; on the embedded broker with no worker."""

import subprocess
import sys

import pytest

from digits.jobs import recovery
from digits.jobs.context import ABORT_FILE
from digits.jobs.status import Status
from digits.models.layout import snapshot_name
from tests.support.model_forms import done_dataset, model_fields, stored_job


@pytest.fixture
def services(app):
    return app.extensions["digits"]


def model_with_snapshot(services, status=Status.RUN, restarts=0):
    model = stored_job(
        services.store, "model", status, **model_fields(done_dataset(services.store))
    )
    (services.store.folder(model.id) / snapshot_name(2)).write_bytes(b"")
    if restarts:
        services.store.update(model.id, lambda job: setattr(job, "restarts", restarts) or job)
    return services.store.get(model.id)


def test_resume_goes_on_from_the_snapshot_and_clears_the_abort_request(services):
    model = model_with_snapshot(services, Status.ABORT)
    (services.store.folder(model.id) / ABORT_FILE).write_text("")
    resumed = services.control.resume(model.id)
    assert resumed.status is Status.WAIT and resumed.status_reason.endswith("epoch 2")
    assert not (services.store.folder(model.id) / ABORT_FILE).exists()


def test_resume_refuses_a_job_that_runs_or_has_nothing_to_go_on_from(services):
    with pytest.raises(recovery.CannotResume, match="only an Aborted or Error"):
        services.control.resume(model_with_snapshot(services, Status.RUN).id)
    bare = stored_job(services.store, "model", Status.ERROR, **model_fields("x"))
    with pytest.raises(recovery.CannotResume, match="no snapshot"):
        services.control.resume(bare.id)


def test_a_lost_run_is_requeued_until_max_restarts_then_ends_error(services):
    control = services.control
    model = model_with_snapshot(services)
    assert recovery.recover(control.events, control.celery, model, "worker w lost", 2)
    again = services.store.get(model.id)
    assert again.status is Status.WAIT and again.restarts == 1
    assert "restart 1 of 2" in again.status_reason
    tired = model_with_snapshot(services, restarts=2)
    assert not recovery.recover(control.events, control.celery, tired, "worker w lost", 2)
    ended = services.store.get(tired.id)
    assert ended.status is Status.ERROR
    assert ended.status_reason == "worker w lost (after 2 automatic restarts)"


def test_a_run_whose_process_died_on_this_worker_is_recovered_by_the_worker(services):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    model = model_with_snapshot(services)

    def ran_here(job):
        job.worker, job.runner_pid = "gpu@host", dead.pid
        return job

    services.store.update(model.id, ran_here)
    control = services.control
    recovery.recover_dead_runners(control.events, control.celery, "other@host", 3)
    assert services.store.get(model.id).status is Status.RUN  # another worker's: not its call
    recovery.recover_dead_runners(control.events, control.celery, "gpu@host", 3)
    again = services.store.get(model.id)
    assert again.status is Status.WAIT and f"pid {dead.pid}" in again.status_reason
