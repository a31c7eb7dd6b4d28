"""What a worker does with a job: the Celery task that runs it to its end (see context for what
the job type's `run` gets)."""

from __future__ import annotations

import logging
import os
import time
import traceback

from digits.config import Settings
from digits.hardware.gangs import GangLease, try_gang_lease
from digits.hardware.leases import GpuPool, GpuRequest, Lease, Waiting
from digits.jobs import recovery, types
from digits.jobs.context import (
    JobAborted,
    JobContext,
    JobError,
    JobLost,
    abort_reason,
    worker_events,
)
from digits.jobs.events import JobEvents
from digits.jobs.gang_runs import mark_lost, read_gang, start_gang
from digits.jobs.heartbeats import gpu_hosts, live_workers, node_of
from digits.jobs.job import Job
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound, JobStore

log = logging.getLogger(__name__)


def run_job(task, job_id: str) -> None:
    """The Celery task: run one job to its end and record how it ended; never raise."""
    settings: Settings = task.app.digits_settings
    events = worker_events(settings)
    hostname = task.request.hostname or "worker"
    try:
        job = events.store.get(job_id)  # as queued; _start checks again under the job's lock
    except JobNotFound:
        return  # deleted while queued
    if _stale(job, task.request.id) or _still_waiting(task, events, job):
        return
    lease = _lease_gpus(task, events, job, hostname)
    if isinstance(lease, Waiting):
        return
    try:
        if _start(events, job_id, hostname, lease):
            _run(task, events, settings, job_id, hostname, lease)
    finally:
        if lease:
            lease.release()


def _run(
    task, events: JobEvents, settings: Settings, job_id: str, hostname: str, lease: Lease | None
) -> None:
    try:
        job = events.store.get(job_id)
        try:
            job_type = types.get(job.type)
        except types.UnknownJobType:
            raise RuntimeError(
                f"this worker ({hostname}) does not know job type {job.type!r}"
            ) from None
        ctx = JobContext(job, settings, events, lease, celery=task.app)
        if isinstance(lease, GangLease):  # its other hosts start their ranks now
            ctx.gang = start_gang(task.app, settings, job, lease, hostname)
            hosts = ", ".join(
                f"{s.host} (GPUs {', '.join(map(str, s.gpus))})" for s in lease.shares
            )
            events.log_line(job_id, f"training across {len(lease.shares)} hosts: {hosts}")
        job_type.run(ctx)
    except JobAborted:
        _finish(events, job_id, Status.ABORT, abort_reason(events.store.folder(job_id)))
    except JobNotFound:
        log.info("job %s was deleted while it ran", job_id)
    except JobError as exc:
        _finish(events, job_id, Status.ERROR, str(exc))
    except JobLost as exc:
        if isinstance(lease, GangLease):  # one of its hosts may be gone: see gpu_hosts
            mark_lost(events.store.folder(job_id))
        _recover(task, events, job_id, str(exc))
    except Exception as exc:
        _log_traceback(events, job_id)
        _finish(events, job_id, Status.ERROR, f"{type(exc).__name__}: {exc}")
    else:
        _finish(events, job_id, Status.DONE)


WAIT_RECHECK = 2.0  # seconds between looks at what a waiting job waits on
GPU_RECHECK = 1.0  # GPUs free up when a job ends: look again soon
HAND_ON = 0.2  # seconds before a job this host cannot serve goes back to the queue


def _still_waiting(task, events: JobEvents, job: Job) -> bool:
    """A job whose prerequisite (a model's dataset) is not Done waits, or fails with it."""
    job_type = types.of(job)
    if job_type.waiting_on is None:
        return False
    verdict = job_type.waiting_on(job, events.store)
    if verdict is None:
        return False
    wait_reason, fail_reason = verdict
    if fail_reason:
        events.move(job.id, Status.ERROR, fail_reason, only_from=frozenset({Status.WAIT}))
        return True
    _wait_again(task, events, job, wait_reason, WAIT_RECHECK)
    return True


def _wait_again(task, events: JobEvents, job: Job, reason: str | None, delay: float) -> None:
    """Leave the job Waiting (with the reason on its page) and look again in `delay` seconds."""
    if job.status_reason != reason:
        events.move(job.id, Status.WAIT, reason, only_from=frozenset({Status.WAIT}))
    task.app.send_task(
        task.name, args=[job.id], queue=job.queue, countdown=delay, task_id=job.task_id
    )


def _lease_gpus(task, events: JobEvents, job: Job, hostname: str) -> Lease | Waiting | None:
    """Lease the GPUs the job asks for on this host, or leave it Waiting with the reason.

    None: the job wants no GPU, or this host has none (its ranks then run on the CPU).
    """
    job_type = types.of(job)
    pool: GpuPool = task.app.digits_gpu_pool
    if job_type.gpu_request is None:
        return None
    request = job_type.gpu_request(job)
    if not pool.offered and not request.indexes and not _gpus_offered_elsewhere(task):
        return None  # a cluster without GPUs: the job's ranks run on this host's CPU
    holder = {
        "job_id": job.id,
        "name": job.name,
        "worker": hostname,
        "pid": os.getpid(),
        "since": time.time(),
    }
    ahead = _gpu_requests_ahead(job, events.store)
    lease = pool.try_lease(request, holder, ahead=ahead)
    if isinstance(lease, Waiting) and lease.elsewhere and not request.indexes:
        lost_at = (read_gang(events.store.folder(job.id)) or {}).get("lost_at", 0.0)
        offered = gpu_hosts(live_workers(task.app.digits_settings), heard_since=lost_at)
        if _needs_a_gang(request, offered):
            settings = task.app.digits_settings
            leader = node_of(hostname)
            lease = try_gang_lease(settings.jobs_dir, leader, offered, request, holder, ahead)
    if isinstance(lease, Waiting) and lease.elsewhere:
        # Back to the queue at once for a host that has such GPUs; its reason (GPUs held
        # there) is the one to show, so this host's only fills a blank.
        _wait_again(task, events, job, job.status_reason or lease.reason, HAND_ON)
    elif isinstance(lease, Waiting):
        _wait_again(task, events, job, lease.reason, GPU_RECHECK)
    return lease


def _needs_a_gang(request: GpuRequest, offered: dict[str, set[int]]) -> bool:
    """GPUs chosen on several hosts, or more than any one host has: it trains across hosts."""
    if request.hosts:
        return request.host_count > 1
    return request.size > max(map(len, offered.values()), default=0)


def _gpus_offered_elsewhere(task) -> bool:
    return any(worker.get("gpus") for worker in live_workers(task.app.digits_settings))


def _gpu_requests_ahead(job: Job, store: JobStore) -> list[tuple[str, GpuRequest]]:
    """The GPU requests of jobs ready to run that have waited longer than `job`, oldest first."""
    ahead = []
    for other in sorted(store.list(), key=lambda j: j.created):
        if other.created >= job.created or other.status is not Status.WAIT:
            continue
        other_type = types.of(other)
        if other_type.gpu_request is None:
            continue
        if other_type.waiting_on and other_type.waiting_on(other, store) is not None:
            continue  # still waiting for its dataset, not for GPUs
        ahead.append((f"{other.name} ({other.id})", other_type.gpu_request(other)))
    return ahead


def _stale(job: Job, task_id: str | None) -> bool:
    """A message for a job that is not waiting to start, or that a newer task superseded: one
    redelivered after a lost worker or Redis's visibility timeout (see celery_app). Dropped."""
    if task_id and job.task_id and task_id != job.task_id:
        return True
    return job.status not in (Status.INIT, Status.WAIT)


def _start(events: JobEvents, job_id: str, hostname: str, lease: Lease | None) -> bool:
    """Mark the job Running on this worker, unless it ended (aborted, deleted) while queued."""
    return events.move(
        job_id,
        Status.RUN,
        only_from=frozenset({Status.INIT, Status.WAIT}),
        worker=hostname,
        runner_pid=os.getpid(),
        gpus=list(lease.gpus) if lease else [],
    )


def _recover(task, events: JobEvents, job_id: str, what_happened: str) -> None:
    try:
        job = events.store.get(job_id)
        recovery.recover(
            events, task.app, job, what_happened, task.app.digits_settings.max_restarts
        )
    except Exception:
        log.exception("could not recover job %s", job_id)
        _finish(events, job_id, Status.ERROR, what_happened)


def _finish(events: JobEvents, job_id: str, status: Status, reason: str | None = None) -> None:
    try:
        events.move(job_id, status, reason)
    except Exception:
        log.exception("could not record the end of job %s", job_id)


def _log_traceback(events: JobEvents, job_id: str) -> None:
    try:
        for line in traceback.format_exc().rstrip().splitlines():
            events.log_line(job_id, line)
    except Exception:
        log.exception("could not log the error of job %s", job_id)
