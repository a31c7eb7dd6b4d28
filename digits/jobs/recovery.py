"""Running a job again: Resume (a user's, on an Aborted or Error job), recovery (automatic, when
the job's worker or process died under it), and a Done job's rerun (a dataset's "Add images").

A job type says where a new run would start (`JobType.resume_point`: a model's latest snapshot,
a dataset's beginning); the job goes back to Waiting with a new task, and the run picks up from
its folder, the truth. Automatic recovery is bounded (`Settings.max_restarts`), so a job that
kills its worker every time ends Error instead of looping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

from celery import Celery

from digits.config import RUN_JOB_TASK
from digits.jobs import types
from digits.jobs.context import ABORT_FILE
from digits.jobs.events import JobEvents
from digits.jobs.job import Job
from digits.jobs.status import Status


class CannotResume(Exception):
    """Resume asked of a job that is not stopped, or has nothing to go on from."""


def resume_point(job: Job, events: JobEvents) -> str | None:
    job_type = types.of(job)
    if job_type.resume_point is None:
        return None
    return job_type.resume_point(job, events.store.folder(job.id))


def requeue(
    events: JobEvents,
    celery: Celery,
    job_id: str,
    allowed_from: frozenset[Status],
    reason: str,
    restarted: bool,
    change: Callable[[Job], None] | None = None,
) -> Job | None:
    """Move the job to Waiting with a new task (under its lock, after `change`, if given),
    then send that task.

    None if the job was not in `allowed_from` any more (another process got there first).
    """

    def update(job: Job) -> Job | None:
        if job.status not in allowed_from:
            return None
        if change:
            change(job)
        job.restarts = job.restarts + 1 if restarted else 0
        job.set_status(Status.WAIT, reason)
        job.task_id = str(uuid.uuid4())
        job.worker = None
        return job

    job = events.store.update(job_id, update)
    if job is None:
        return None
    (events.store.folder(job_id) / ABORT_FILE).unlink(missing_ok=True)
    events.publish(job_id, "status", status=Status.WAIT.label, reason=reason, progress=job.progress)
    celery.send_task(RUN_JOB_TASK, args=[job_id], queue=job.queue, task_id=job.task_id)
    return job


def resume(events: JobEvents, celery: Celery, job_id: str) -> Job:
    """A user's Resume: an Aborted or Error job goes on from its resume point."""
    job = events.store.get(job_id)
    if job.status not in (Status.ABORT, Status.ERROR):
        raise CannotResume(
            f"job {job_id} is {job.status.label}: only an Aborted or Error job can be resumed"
        )
    point = resume_point(job, events)
    if point is None:
        raise CannotResume("there is nothing to resume from (no snapshot yet): Clone it instead")
    resumed = requeue(
        events,
        celery,
        job_id,
        frozenset({Status.ABORT, Status.ERROR}),
        f"resumed from {point}",
        restarted=False,
    )
    if resumed is None:
        raise CannotResume(f"job {job_id} changed meanwhile; look again")
    return resumed


def recover(
    events: JobEvents, celery: Celery, job: Job, what_happened: str, max_restarts: int
) -> bool:
    """After a lost worker or process: run the job again from its resume point, or (no point,
    or too many restarts) end it Error. Whether it was requeued."""
    point = resume_point(job, events)
    if point is not None and job.restarts < max_restarts:
        reason = (
            f"{what_happened}; resumed from {point} (restart {job.restarts + 1} of {max_restarts})"
        )
        if requeue(events, celery, job.id, frozenset({Status.RUN}), reason, restarted=True):
            return True
    if point is not None:
        what_happened += f" (after {job.restarts} automatic restarts)"
    events.move(job.id, Status.ERROR, what_happened, only_from=frozenset({Status.RUN}))
    return False


def recover_dead_runners(events: JobEvents, celery: Celery, hostname: str, max_restarts: int):
    """Jobs this worker runs whose process died (a pool process killed, say) while the worker
    lives on: its heartbeat stays fresh, so only the worker itself can notice. On its host."""
    for job in events.store.list():
        if job.status is Status.RUN and job.worker == hostname and job.runner_pid:
            if not _alive(job.runner_pid):
                what = f"the process of worker {hostname} that ran it (pid {job.runner_pid}) died"
                recover(events, celery, job, what, max_restarts)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
