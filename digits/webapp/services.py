"""The job system's pieces as the web layer sees them, kept on the app (no globals)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import current_app

from digits.accounts import Accounts
from digits.config import Settings
from digits.jobs import types
from digits.jobs.control import JobControl
from digits.jobs.events import JobEvents, last_seq, read_events
from digits.jobs.heartbeats import live_workers, waiting_reason
from digits.jobs.job import Job, JobFormatError
from digits.jobs.recovery import resume_point
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound, JobStore
from digits.webapp.http import job_parameters


@dataclass
class Services:
    settings: Settings
    store: JobStore
    events: JobEvents
    control: JobControl
    accounts: Accounts

    def live_workers(self) -> list[dict[str, Any]]:
        """The workers alive now (their heartbeats), with what they serve and offer."""
        return live_workers(self.settings)

    def history(self, job_id: str, since: int = 0) -> list[dict[str, Any]]:
        """A job's history from event `since` on."""
        return read_events(self.store.folder(job_id), since)

    def last_seq(self, job_id: str) -> int:
        return last_seq(self.store.folder(job_id))

    def summary(self, job: Job, workers: list[dict[str, Any]]) -> dict[str, Any]:
        """A job's summary, with the honest reason a waiting job is not running."""
        summary = job.summary()
        summary["status_reason"] = waiting_reason(job, workers) or summary["status_reason"]
        job_type = types.of(job)
        summary["run_of"] = job_type.run_of(job) if job_type.run_of else None
        return summary

    def detail(self, job: Job) -> dict[str, Any]:
        """Everything about one job, for its page and its JSON (its type adds its own keys)."""
        job_type = types.of(job)
        folder = self.store.folder(job.id)
        extra = job_type.details(job, folder) if job_type.details else {}
        summary = self.summary(job, self.live_workers())
        if job.kind == "model" and not summary["run_of"]:
            extra["inference_runs"] = self.runs_of(job.id)
        return (
            extra
            | summary
            | {
                "kind": job.kind,
                "notes": job.notes,
                "queue": job.queue,
                "worker": job.worker,
                "gpus": job.gpus,
                "restarts": job.restarts,
                "resume_point": resume_point(job, self.events)
                if job.status in (Status.ABORT, Status.ERROR)
                else None,
                "error": job.error,
                "parameters": job_parameters(job.parameters),
                "status_history": [change.to_dict() for change in job.status_history],
                "directory": str(self.store.folder(job.id)),
                # DIGITS' own names for these, which its users' scripts read.
                "job id": job.id,
                "username": job.owner,
                "creation time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.created)),
            }
        )

    def runs_of(self, model_id: str) -> list[dict[str, Any]]:
        """The inference runs (Classify Many, Top N) made with a model, newest first."""
        runs = []
        for job in self.store.list():
            job_type = types.of(job)
            if job_type.run_of and job_type.run_of(job) == model_id:
                runs.append(job.summary())
        return runs

    def summaries(self) -> list[dict[str, Any]]:
        """Every job's summary, with the seq of its latest event.

        The seq is read before job.json, so each summary is at least as new as its seq and a
        page can safely drop live events that it already covers.
        """
        workers = self.live_workers()
        summaries = []
        for listed in self.store.list():
            seq = self.last_seq(listed.id)
            try:
                job = self.store.get(listed.id)
            except (JobNotFound, JobFormatError):
                continue
            summaries.append(self.summary(job, workers) | {"kind": job.kind, "seq": seq})
        return summaries


def services() -> Services:
    return current_app.extensions["digits"]
