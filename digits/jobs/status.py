"""DIGITS' six job statuses."""

from __future__ import annotations

from enum import Enum


class Status(Enum):
    """A job's status; `.value` is DIGITS' one-letter code, `.label` the name shown everywhere."""

    INIT = "I"
    WAIT = "W"
    RUN = "R"
    DONE = "D"
    ABORT = "A"
    ERROR = "E"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_terminal(self) -> bool:
        return self in (Status.DONE, Status.ABORT, Status.ERROR)

    @classmethod
    def parse(cls, text: str) -> Status:
        """Accept a code ("D") or a name ("Done")."""
        for status in cls:
            if text in (status.value, status.label):
                return status
        raise ValueError(f"unknown status {text!r}")


_LABELS = {
    Status.INIT: "Initialized",
    Status.WAIT: "Waiting",
    Status.RUN: "Running",
    Status.DONE: "Done",
    Status.ABORT: "Aborted",
    Status.ERROR: "Error",
}
