"""The job store: one folder per job, its `job.json` the truth, shared by server and workers.

Writers (the web server and any worker) change a job under an exclusive `flock` on the job's
`.lock` file and replace `job.json` atomically, so a reader never sees half a file and two
writers never lose each other's changes.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from digits.jobs.job import Job, JobFormatError, is_job_id

log = logging.getLogger(__name__)
T = TypeVar("T")
JOB_FILE = "job.json"


def read_json_lines(path: Path) -> list:
    """Each line of a JSON-lines file that parses; a line cut short by a crash is skipped."""
    try:
        return _parse_lines(path.read_bytes().splitlines())
    except FileNotFoundError:
        return []


def read_last_json_lines(path: Path, count: int, line_size: int = 2048) -> list:
    """The last `count` lines of a JSON-lines file that may be long, read from its end."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - count * line_size))
            # The first line may be cut by the seek: it fails to parse and is skipped.
            return _parse_lines(f.read().splitlines()[-count:])
    except FileNotFoundError:
        return []


def _parse_lines(lines: list[bytes]) -> list:
    rows = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except ValueError:  # not JSON, or cut inside a multi-byte character
            continue
    return rows


class JobIdTaken(FileExistsError):
    """Another job has this id (two made in the same second drew the same suffix)."""


class JobNotFound(LookupError):
    pass


def write_json_atomically(path: Path, data: object) -> None:
    """Write to a temporary file beside `path`, fsync it, then rename it over `path`."""
    _write_atomically(path, json.dumps(data, indent=2, sort_keys=True))


def write_lines_atomically(path: Path, lines: list[str]) -> None:
    _write_atomically(path, "".join(line + "\n" for line in lines))


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


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
            job = Job.from_dict(json.loads(path.read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise JobFormatError(f"job.json is not valid JSON: {exc}") from exc
        if job.id != name:
            raise JobFormatError(f"job.json names job {job.id!r}, not its folder's {name!r}")
        self._cache[name] = (key, job)
        return job

    @contextmanager
    def locked(self, job_id: str) -> Iterator[Path]:
        folder = self.folder(job_id)
        try:
            fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            raise JobNotFound(job_id) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield folder
        finally:
            os.close(fd)

    def update(self, job_id: str, change: Callable[[Job], T]) -> T:
        """Apply `change` to a fresh copy of the job under its lock and save the result."""
        with self.locked(job_id) as folder:
            path = folder / JOB_FILE
            if not path.exists():
                raise JobNotFound(job_id)
            job = Job.from_dict(json.loads(path.read_text()))
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
