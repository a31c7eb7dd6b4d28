"""A job's events: appended to `events.jsonl` in its folder, then sent live over Socket.IO.

The file is the history, numbered by `seq` with no gaps; Socket.IO only carries the news. A page
that (re)connects asks for the events after the last `seq` it has, then applies live ones in
order, so nothing is missed and nothing is applied twice.
"""

from __future__ import annotations

import fcntl
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digits.files import (
    open_append,
    open_read,
    parse_json_lines,
    read_json_lines,
    read_last_json_lines,
    write_lines_atomically,
)
from digits.jobs.job import Job
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound, JobStore

log = logging.getLogger(__name__)

EVENTS_FILE = "events.jsonl"
# A running job's CPU, memory and GPU figures, one line a second: the stats panels' history.
USAGE_FILE = "usage.jsonl"
JOB_USAGE = "job usage"
USAGE_FILE_LIMIT = 4 * 2**20  # bytes; then cut to the last USAGE_KEEP samples
USAGE_KEEP = 1000
NAMESPACE = "/jobs"
JOB_MANAGEMENT_ROOM = "job_management"
JOB_UPDATE = "job update"
# Updates that the home page shows; log lines only go to the job's own room.
_HOME_PAGE_UPDATES = {"status", "progress", "name", "deleted"}
ACTIVE = frozenset({Status.INIT, Status.WAIT, Status.RUN})
MAX_LOG_LINE = 8192

Emit = Callable[[str, dict, str], None]  # (event name, data, room)


def _last_seq(f) -> int:
    """The seq of the last complete line of an events file open for reading, or -1."""
    f.seek(0, 2)
    end = f.tell()
    f.seek(max(0, end - 4 * MAX_LOG_LINE))
    for line in reversed(f.read().splitlines()):
        try:
            return int(json.loads(line)["seq"])
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a crash: look further back
    return -1


def append_event(folder: Path, update: str, data: dict[str, Any]) -> dict[str, Any]:
    """Append one event with the next seq; safe against concurrent writers on any host."""
    with open_append(folder / EVENTS_FILE, readable=True) as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        event = {"seq": _last_seq(f) + 1, "time": time.time(), "update": update, **data}
        f.seek(0, 2)
        if f.tell() and not _ends_with_newline(f):
            f.write(b"\n")
        f.write(json.dumps(event).encode() + b"\n")
        f.flush()
    return event


def _ends_with_newline(f) -> bool:
    f.seek(-1, 2)
    last = f.read(1)
    f.seek(0, 2)
    return last == b"\n"


def last_seq(folder: Path) -> int:
    """The seq of the job's latest event, or -1 if it has none."""
    try:
        with open_read(folder / EVENTS_FILE) as f:
            return _last_seq(f)
    except FileNotFoundError:
        return -1


def read_events(folder: Path, since: int = 0) -> list[dict[str, Any]]:
    """The job's events with seq >= since, in order."""
    return [
        event
        for event in read_json_lines(folder / EVENTS_FILE)
        if isinstance(event, dict) and event.get("seq", -1) >= since
    ]


def follow_events(folder: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """The complete events appended to the job's file past byte `offset`, and the new offset.
    A line too long to be ours, or not an event, is skipped (the file's writer may be a job's
    sandboxed code, which writes only its own folder)."""
    try:
        with open_read(folder / EVENTS_FILE) as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    complete = data[: data.rfind(b"\n") + 1]
    lines = [line for line in complete.splitlines() if len(line) <= 2 * MAX_LOG_LINE]
    events = [
        event
        for event in parse_json_lines(lines)
        if isinstance(event, dict) and isinstance(event.get("update"), str)
    ]
    return events, offset + len(complete)


def events_size(folder: Path) -> int:
    try:
        return (folder / EVENTS_FILE).stat().st_size
    except FileNotFoundError:
        return 0


class JobEvents:
    """Changes a job and tells everyone: job.json first, then the events file, then Socket.IO."""

    def __init__(self, store: JobStore, emit: Emit):
        self.store = store
        self._emit = emit

    def publish(self, job_id: str, update: str, **data: Any) -> dict[str, Any]:
        event = append_event(self.store.folder(job_id), update, data)
        message = {"job_id": job_id, **event}
        self._send(message, job_id)
        if update in _HOME_PAGE_UPDATES:
            self._send(message, JOB_MANAGEMENT_ROOM)
        return event

    def relay(self, job_id: str, event: dict[str, Any]) -> None:
        """Send an event that a sandboxed child wrote to the job's file (it cannot reach the
        broker): to the job's own rooms only, whatever the line claims."""
        message = {**event, "job_id": job_id}
        self._send(message, job_id)
        if event["update"] in _HOME_PAGE_UPDATES:
            self._send(message, JOB_MANAGEMENT_ROOM)

    def _send(self, message: dict[str, Any], room: str) -> None:
        try:
            self._emit(JOB_UPDATE, message, room)
        except Exception:  # the file has it; a page catches up when it reconnects
            log.exception("could not send %s event for job %s", message["update"], room)

    def move(
        self,
        job_id: str,
        status: Status,
        reason: str | None = None,
        *,
        only_from: frozenset[Status] = ACTIVE,
        **fields: Any,
    ) -> bool:
        """Move a job to `status` if it is in one of `only_from` (checked under the job's lock).

        Extra `fields` are set on the job too. Returns whether it moved: a job aborted while
        queued, for one, is not started by the worker that dequeues it later.
        """

        def change(job: Job) -> bool:
            if job.status not in only_from:
                return False
            job.set_status(status, reason)
            for name, value in fields.items():
                setattr(job, name, value)
            return True

        try:
            moved = self.store.update(job_id, change)
        except JobNotFound:
            return False
        if moved:
            self.publish(job_id, "status", status=status.label, reason=reason, **fields)
        return moved

    def set_progress(self, job_id: str, progress: float, **extra: Any) -> None:
        def change(job: Job) -> None:
            job.progress = progress

        self.store.update(job_id, change)
        self.publish(job_id, "progress", progress=progress, **extra)

    def record_usage(self, job_id: str, sample: dict[str, Any]) -> None:
        """A sample of what the job uses: kept in its usage file, sent to its page.

        Not an event: a sample a second would swamp the history that pages catch up from.
        """
        path = self.store.folder(job_id) / USAGE_FILE
        with open_append(path) as f:
            f.write(json.dumps(sample).encode() + b"\n")
            size = f.tell()
        if size > USAGE_FILE_LIMIT:  # a week-long training must not fill the disk with figures
            kept = read_last_json_lines(path, USAGE_KEEP)
            write_lines_atomically(path, [json.dumps(row) for row in kept])
        try:
            self._emit(JOB_USAGE, {"job_id": job_id, **sample}, job_id)
        except Exception:
            log.exception("could not send a usage sample of job %s", job_id)

    def log_line(self, job_id: str, line: str) -> None:
        self.publish(job_id, "log", line=line[:MAX_LOG_LINE])

    def describe(
        self, job_id: str, name: str | None, notes: str | None, group: str | None = None
    ) -> Job:
        """A new name, notes or group for a job (None: unchanged)."""

        def change(job: Job) -> Job:
            job.name = job.name if name is None else name
            job.notes = job.notes if notes is None else notes
            job.group = job.group if group is None else group
            return job

        job = self.store.update(job_id, change)
        self.publish(job_id, "name", name=job.name, notes=job.notes, group=job.group)
        return job

    def announce_deleted(self, job_id: str) -> None:
        """The folder is gone, so this one event lives only on the wire."""
        message = {"job_id": job_id, "seq": None, "time": time.time(), "update": "deleted"}
        self._send(message, job_id)
        self._send(message, JOB_MANAGEMENT_ROOM)
