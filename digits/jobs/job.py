"""A job as stored in its folder's `job.json`: plain, versioned data, never pickle."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from digits.jobs.status import Status

SCHEMA_VERSION = 1
JOB_ID_PATTERN = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{4}$")
KINDS = ("dataset", "model")


class JobFormatError(ValueError):
    """A job.json that is not ours, corrupt, or from a newer release."""


def new_job_id(now: float | None = None) -> str:
    """DIGITS' id format: YYYYMMDD-HHMMSS-xxxx."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{secrets.token_hex(2)}"


def is_job_id(text: str) -> bool:
    return bool(JOB_ID_PATTERN.fullmatch(text))


@dataclass
class StatusChange:
    status: Status
    time: float
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.label, "time": self.time, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatusChange:
        return cls(Status.parse(data["status"]), float(data["time"]), data.get("reason"))


@dataclass
class Job:
    id: str
    type: str
    kind: str
    name: str
    owner: str
    queue: str
    parameters: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    group: str = ""  # jobs a person files together (a sweep's, say): the home page filters by it
    created: float = field(default_factory=time.time)
    status_history: list[StatusChange] = field(default_factory=list)
    progress: float = 0.0
    error: str | None = None
    task_id: str | None = None
    worker: str | None = None
    gpus: list[int] = field(default_factory=list)  # the GPUs its current run holds
    restarts: int = 0  # automatic restarts after lost workers, since the last start by a user
    runner_pid: int | None = None  # the worker process running it, on the worker's host

    @property
    def status(self) -> Status:
        return self.status_history[-1].status if self.status_history else Status.INIT

    @property
    def status_reason(self) -> str | None:
        return self.status_history[-1].reason if self.status_history else None

    def set_status(self, status: Status, reason: str | None = None) -> StatusChange:
        change = StatusChange(status, time.time(), reason)
        self.status_history.append(change)
        if status is Status.ERROR:
            self.error = reason
        if status is Status.DONE:
            self.progress = 1.0
        return change

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status_history"] = [change.to_dict() for change in self.status_history]
        return {"schema_version": SCHEMA_VERSION, **data}

    @classmethod
    def from_dict(cls, data: Any) -> Job:
        if not isinstance(data, dict):
            raise JobFormatError("job.json does not hold an object")
        version = data.get("schema_version")
        if not isinstance(version, int):
            raise JobFormatError("job.json has no schema_version: not a job of ours")
        if version > SCHEMA_VERSION:
            raise JobFormatError(
                f"job.json has schema_version {version}, newer than this release's {SCHEMA_VERSION}"
            )
        fields = {k: v for k, v in data.items() if k != "schema_version"}
        try:
            fields["status_history"] = [StatusChange.from_dict(c) for c in fields["status_history"]]
            job = cls(**fields)
        except (KeyError, TypeError, ValueError) as exc:
            raise JobFormatError(f"job.json is malformed: {exc}") from exc
        if not is_job_id(job.id) or job.kind not in KINDS:
            raise JobFormatError(f"job.json has an invalid id or kind ({job.id!r}, {job.kind!r})")
        return job

    def summary(self) -> dict[str, Any]:
        """What the home page and /index.json show of a job."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status.label,
            "status_reason": self.status_reason,
            "type": self.type,
            "owner": self.owner,
            "group": self.group,
            "submitted": self.created,
            "progress": self.progress,
        }
