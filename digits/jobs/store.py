"""The job store: one folder per job, its `job.json` the truth, shared by server and workers.

Writers (the web server and any worker) change a job under an exclusive `flock` on the job's
`.lock` file and replace `job.json` atomically, so a reader never sees half a file and two
writers never lose each other's changes.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TypeVar

from digits.files import locked, read_regular, write_json_atomically
from digits.jobs.job import Job, JobFormatError, is_job_id

log = logging.getLogger(__name__)
T = TypeVar("T")
JOB_FILE = "job.json"


class JobIdTaken(FileExistsError):
    """Another job has this id (two made in the same second drew the same suffix)."""


class JobNotFound(LookupError):
    pass


class JobStore:
    def __init__(self, jobs_dir: Path):
        self.jobs_dir = Path(jobs_dir)
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._cache: dict[str, tuple[tuple[int, int], Job]] = {}
        # Folders whose job.json could not be read, with the reason: shown on the home page.
        self.problems: dict[str, str] = {}

    def folder(self, job_id: str) -> Path:
        if not is_job_id(job_id):
            raise JobNotFound(job_id)
        return self.jobs_dir / job_id

    def create(self, job: Job) -> Path:
        """Lay out the job's folder complete in a hidden place, then rename it into view."""
        staging = Path(tempfile.mkdtemp(prefix=f".creating-{job.id}-", dir=self.jobs_dir))
        write_json_atomically(staging / JOB_FILE, job.to_dict())
        target = self.folder(job.id)
        try:
            os.rename(staging, target)  # fails if a job of that id exists: ids are never reused
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise JobIdTaken(job.id) from None
            raise
        return target

    def get(self, job_id: str) -> Job:
        path = self.folder(job_id) / JOB_FILE
        try:
            return self._load(job_id, path)
        except FileNotFoundError:
            raise JobNotFound(job_id) from None

    def list(self) -> list[Job]:
        """Every readable job, newest first; unreadable ones are recorded in `problems`."""
        jobs, problems = [], {}
        for entry in os.scandir(self.jobs_dir):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            try:
                jobs.append(self._load(entry.name, Path(entry.path) / JOB_FILE))
            except FileNotFoundError:
                problems[entry.name] = "no job.json in this folder"
            except JobFormatError as exc:
                problems[entry.name] = str(exc)
        for name, message in problems.items():
            if self.problems.get(name) != message:
                log.warning("skipping jobs folder %s: %s", name, message)
        self.problems = problems
        return sorted(jobs, key=lambda job: job.created, reverse=True)

    def _load(self, name: str, path: Path) -> Job:
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_ino)
        cached = self._cache.get(name)
        if cached and cached[0] == key:
            return cached[1]
        try:
            job = Job.from_dict(json.loads(read_regular(path)))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise JobFormatError(f"job.json is not valid JSON: {exc}") from exc
        if job.id != name:
            raise JobFormatError(f"job.json names job {job.id!r}, not its folder's {name!r}")
        self._cache[name] = (key, job)
        return job

    @contextmanager
    def locked(self, job_id: str) -> Iterator[Path]:
        folder = self.folder(job_id)
        with ExitStack() as stack:
            try:
                stack.enter_context(locked(folder / ".lock"))
            except FileNotFoundError:  # the job's folder is gone
                raise JobNotFound(job_id) from None
            yield folder

    def update(self, job_id: str, change: Callable[[Job], T]) -> T:
        """Apply `change` to a fresh copy of the job under its lock and save the result."""
        with self.locked(job_id) as folder:
            path = folder / JOB_FILE
            if not path.exists():
                raise JobNotFound(job_id)
            job = Job.from_dict(json.loads(read_regular(path)))
            result = change(job)
            write_json_atomically(path, job.to_dict())
            return result

    def delete(self, job_id: str) -> None:
        """Make the folder vanish at once (rename), then remove its files."""
        folder = self.folder(job_id)
        trash = self.jobs_dir / f".deleted-{job_id}-{os.getpid()}"
        try:
            os.rename(folder, trash)
        except FileNotFoundError:
            raise JobNotFound(job_id) from None
        self._cache.pop(job_id, None)
        shutil.rmtree(trash, ignore_errors=True)
