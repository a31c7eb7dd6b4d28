"""The context a job runs in: what a job type's `run` gets, and how it ends early.

Job types import this module (never the runner): `JobContext` to report progress and log
lines, `JobAborted`/`JobError`/`JobLost` to say how the job ended, and the abort file through
which a user's Abort reaches a running job.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from digits.config import Settings
from digits.files import read_regular, write_text_atomically
from digits.hardware.leases import Lease
from digits.jobs.events import JobEvents
from digits.jobs.job import Job
from digits.jobs.messaging import create_socketio_manager
from digits.jobs.store import JobStore
from digits.sandbox import in_sandbox

ABORT_FILE = "abort"
MAX_REASON = 1000  # characters of why a job was stopped
PROGRESS_INTERVAL = 0.2  # seconds between progress events: smooth bars, bounded history


class JobAborted(Exception):
    """Raised inside a job when its user asked it to stop."""


class JobError(Exception):
    """A failure explained for the user: its message becomes the job's error as it is."""


class JobLost(Exception):
    """The job's process died without explaining itself (killed, out of memory, a crash in
    native code): the job may go on from where it got to (see digits.jobs.recovery)."""


USER_ABORT = "aborted by the user"


def request_abort(folder: Path, reason: str = "") -> None:
    """Ask a running job to stop; the job sees it at its next check. The file holds why,
    when someone other than the user stopped it (a search pruning its trial, say)."""
    # Replaced, never written through: the job's code may have left a link of that name.
    write_text_atomically(folder / ABORT_FILE, reason, durable=False)


GANG_STOP_FILE = "gang_stop"  # a gang's host whose ranks failed asks the leader to stop


def request_gang_stop(folder: Path, why: str) -> None:
    """One host of a gang failed: the leader stops its ranks too, and the job goes on from its
    last snapshot (a stop that no rank's collective would report: after the last step, say)."""
    write_text_atomically(folder / GANG_STOP_FILE, why, durable=False)


def abort_reason(folder: Path) -> str:
    """Why the job was asked to stop, as its status will say."""
    try:
        return read_regular(folder / ABORT_FILE).decode()[:MAX_REASON].strip() or USER_ABORT
    except (FileNotFoundError, UnicodeDecodeError):
        return USER_ABORT


class JobContext:
    """What a job type's `run` gets: its job, its folder, its GPUs, and ways to report back."""

    def __init__(
        self,
        job: Job,
        settings: Settings,
        events: JobEvents,
        lease: Lease | None = None,
        celery: Any = None,
    ):
        self.job = job
        # The worker's Celery app: what a job that submits jobs (a search's trials) sends with.
        self.celery = celery
        self.settings = settings
        self.events = events
        self.folder = events.store.folder(job.id)
        # The GPUs leased for this run (physical indexes); none on a host without GPUs.
        self.lease = lease
        self.gpus: tuple[int, ...] = lease.gpus if lease else ()
        # A job trained across hosts: how this host's ranks join the others' (gang_runs.Gang).
        self.gang: Any = None
        self._last_progress_time = 0.0

    @property
    def parameters(self) -> dict[str, Any]:
        return self.job.parameters

    def abort_requested(self) -> bool:
        return (self.folder / ABORT_FILE).exists()

    def gang_stopped(self) -> bool:
        """This host leads a gang whose other host failed (see request_gang_stop)."""
        leads = self.gang is not None and self.gang.leads
        return leads and (self.folder / GANG_STOP_FILE).exists()

    def check_abort(self) -> None:
        if self.abort_requested():
            raise JobAborted()

    def progress(self, fraction: float, **extra: Any) -> None:
        """Report progress (0 to 1); throttled, so call it as often as is convenient."""
        now = time.monotonic()
        if fraction < 1.0 and now - self._last_progress_time < PROGRESS_INTERVAL:
            return
        self._last_progress_time = now
        self.events.set_progress(self.job.id, max(0.0, min(1.0, fraction)), **extra)

    def log(self, line: str) -> None:
        self.events.log_line(self.job.id, line)


# One store and one emitter per worker process, made after the pool forks.
# One JobEvents per process and jobs folder (a worker's; a test process may hold several).
_process_events: dict[tuple[int, str, str], JobEvents] = {}


def worker_events(settings: Settings) -> JobEvents:
    key = (os.getpid(), str(settings.jobs_dir), settings.broker_url)
    if key not in _process_events:
        _process_events[key] = _new_worker_events(settings)
    return _process_events[key]


def _new_worker_events(settings: Settings) -> JobEvents:
    if in_sandbox():  # the broker is out of reach: the parent relays the events file
        return JobEvents(JobStore(settings.jobs_dir), _unsent)
    manager = create_socketio_manager(settings, write_only=True)

    def emit(event: str, data: dict, room: str) -> None:
        manager.emit(event, data, namespace="/jobs", room=room)

    return JobEvents(JobStore(settings.jobs_dir), emit)


def _unsent(event: str, data: dict, room: str) -> None:
    """A sandboxed child's events stay in its job's file, which its parent relays."""
