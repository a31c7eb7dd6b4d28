"""Submitting, aborting, deleting and cloning jobs: what the web layer asks of the job system."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery

from digits.config import RUN_JOB_TASK
from digits.jobs import recovery, types
from digits.jobs.context import request_abort
from digits.jobs.events import JobEvents
from digits.jobs.heartbeats import is_orphaned, live_workers
from digits.jobs.job import Job, new_job_id
from digits.jobs.status import Status
from digits.jobs.store import JobIdTaken
from digits.jobs.types import JobType

log = logging.getLogger(__name__)

QUEUED = frozenset({Status.INIT, Status.WAIT})
ID_ATTEMPTS = 20


class JobInUse(Exception):
    """Deleting a job that others still use (a dataset its models)."""

    def __init__(self, job_id: str, users: list[Job]):
        names = ", ".join(f"{u.name} ({u.id})" for u in users)
        super().__init__(f"job {job_id} is used by {names}; delete those first")
        self.users = users


class JobNotDone(Exception):
    """Asking a job that has not finished well to do what only a Done job can."""


class JobFinished(Exception):
    """Aborting a job that has already ended."""


class JobControl:
    """What is done to jobs: submit, abort, delete, clone, resume, rerun, and the recovery of
    jobs whose worker died (where and when a job runs, the workers decide)."""

    def __init__(self, events: JobEvents, celery: Celery):
        self.events = events
        self.store = events.store
        self.celery = celery
        self.settings = celery.digits_settings

    def submit(
        self,
        job_type: JobType,
        name: str,
        owner: str,
        parameters: dict[str, Any],
        prepare: Callable[[Path], None] | None = None,
        group: str = "",
    ) -> Job:
        """Create the job's folder, then queue it: a job never exists only in the broker.

        `prepare` puts files into the new folder (uploads, say) before any worker can start.
        """
        job = Job(
            id=new_job_id(),
            type=job_type.name,
            kind=job_type.kind,
            name=name,
            owner=owner,
            queue=job_type.queue,
            parameters=parameters,
            group=group,
            task_id=str(uuid.uuid4()),
        )
        job.set_status(Status.INIT)
        folder = self._create_with_a_free_id(job)
        if prepare:
            try:
                prepare(folder)
            except BaseException:
                self.store.delete(job.id)  # no half-made job left behind
                raise
        self.events.publish(job.id, "status", status=Status.INIT.label, reason=None)
        self.events.move(job.id, Status.WAIT)
        self.celery.send_task(RUN_JOB_TASK, args=[job.id], queue=job.queue, task_id=job.task_id)
        return self.store.get(job.id)

    def _create_with_a_free_id(self, job: Job) -> Path:
        """DIGITS' ids have 4 random hex digits a second: jobs submitted together may draw the
        same one, so draw again (the folder's atomic creation says who was first)."""
        for _ in range(ID_ATTEMPTS):
            try:
                return self.store.create(job)
            except JobIdTaken:
                job.id = new_job_id()
        raise RuntimeError(f"no free job id after {ID_ATTEMPTS} attempts")

    def rerun(self, job_id: str, change: Callable[[Job], None], reason: str) -> Job:
        """Run a Done job again after `change` (an "Add images" request, say), as one step."""

        def again(job: Job) -> None:
            change(job)
            job.progress = 0.0

        job = recovery.requeue(
            self.events,
            self.celery,
            job_id,
            frozenset({Status.DONE}),
            reason,
            restarted=False,
            change=again,
        )
        if job is None:
            status = self.store.get(job_id).status.label
            raise JobNotDone(f"job {job_id} is {status}; only a Done job can do this")
        return job

    def clone(self, job_id: str, owner: str) -> Job:
        original = self.store.get(job_id)
        job_type = types.get(original.type)
        name, parameters = f"{original.name} (clone)", dict(original.parameters)
        return self.submit(job_type, name, owner, parameters, group=original.group)

    def abort(self, job_id: str, reason: str = "") -> Job:
        """Stop a job; `reason` says why when it is not the user's Abort."""
        job = self.store.get(job_id)
        if job.status.is_terminal:
            raise JobFinished(f"job {job_id} has already ended ({job.status.label})")
        request_abort(self.store.folder(job_id), reason)
        if job.status in QUEUED:
            self.celery.control.revoke(job.task_id)
            why = reason or "aborted before it started"
            self.events.move(job_id, Status.ABORT, why, only_from=QUEUED)
        return self.store.get(job_id)

    def delete(self, job_id: str) -> None:
        job = self.store.get(job_id)
        users = [other for other in self.store.list() if job_id in _uses(other)]
        if users:
            raise JobInUse(job_id, users)
        if not job.status.is_terminal:
            self.abort(job_id)
        self.store.delete(job_id)
        self.events.announce_deleted(job_id)

    def resume(self, job_id: str) -> Job:
        """Resume an Aborted or Error job from where it got to (CannotResume otherwise)."""
        return recovery.resume(self.events, self.celery, job_id)

    def recover_orphaned_jobs(self) -> list[str]:
        """Running jobs whose worker went silent: run again from where they got to, or (nothing
        to go on from, too many restarts) end Error. Never left showing Running."""
        workers = live_workers(self.settings)
        handled = []
        for job in self.store.list():
            if is_orphaned(job, workers):
                what_happened = f"worker {job.worker} stopped while the job ran"
                recovery.recover(
                    self.events, self.celery, job, what_happened, self.settings.max_restarts
                )
                handled.append(job.id)
        return handled


def _uses(job: Job) -> list[str]:
    job_type = types.of(job)
    return job_type.depends_on(job) if job_type.depends_on else []
