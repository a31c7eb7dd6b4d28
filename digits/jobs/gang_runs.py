"""A job trained across hosts: the leader's worker holds the gang's GPUs (digits.hardware.gangs),
records the gang in the job's folder and sends each other host its part; that host's worker
(its queue `gpu.<host>`) starts its ranks, which join the leader's rendezvous.

The leader's run is the job's run: it moves the job's status, and the job ends when its ranks
end. A member only runs its host's ranks and watches the job's abort file as the leader does; a
member host lost makes the leader's ranks fail, and the job goes on from its last snapshot
(digits.jobs.recovery) on whatever hosts can serve it then.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digits.config import GPU_QUEUE, RUN_MEMBER_TASK, Settings
from digits.files import read_regular, write_json_atomically
from digits.hardware.gangs import GangLease
from digits.jobs import types
from digits.jobs.context import (
    GANG_STOP_FILE,
    JobAborted,
    JobContext,
    JobError,
    JobLost,
    request_gang_stop,
    worker_events,
)
from digits.jobs.job import Job
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound

log = logging.getLogger(__name__)
GANG_FILE = "gang.json"


@dataclass(frozen=True)
class Gang:
    """What a host's ranks need to join the others: the rendezvous, how many hosts, and whether
    this host is the one that holds the rendezvous."""

    endpoint: str
    nodes: int
    leads: bool


def host_queue(node: str) -> str:
    """The queue of one host's GPU worker: a gang member's work goes to that host."""
    return f"{GPU_QUEUE}.{node}"


def start_gang(celery, settings: Settings, job: Job, lease: GangLease, worker: str) -> Gang:
    """Record the gang in the job's folder (its page and JSON list the hosts) and send every
    other host its part. The rendezvous is on this host, on a port picked now."""
    endpoint = f"{settings.advertise_address}:{free_port(settings.rendezvous_ports)}"
    record = {
        "endpoint": endpoint,
        "leader": worker,
        "hosts": [{"host": share.host, "gpus": list(share.gpus)} for share in lease.shares],
    }
    folder = Path(settings.jobs_dir) / job.id
    (folder / GANG_STOP_FILE).unlink(missing_ok=True)  # an earlier run's
    write_json_atomically(folder / GANG_FILE, record)
    for share in lease.shares[1:]:
        celery.send_task(
            RUN_MEMBER_TASK,
            args=[job.id, share.host, list(share.gpus), endpoint, len(lease.shares)],
            queue=host_queue(share.host),
        )
    return Gang(endpoint, len(lease.shares), leads=True)


def read_gang(folder: Path) -> dict[str, Any] | None:
    """The job's gang as the leader recorded it (None: it trains on one host)."""
    try:
        return json.loads(read_regular(folder / GANG_FILE))
    except (FileNotFoundError, ValueError):
        return None


def mark_lost(folder: Path) -> None:
    """The gang's run ended without a word from its ranks (a host lost, say): when."""
    gang = read_gang(folder)
    if gang is not None:
        write_json_atomically(folder / GANG_FILE, gang | {"lost_at": time.time()})


def free_port(ports: tuple[int, int] | None) -> int:
    """A port free on this host now: any, or the first free one of the configured range."""
    candidates = range(ports[0], ports[1] + 1) if ports else [0]
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise JobError(f"no free port for the rendezvous in {ports[0]}-{ports[1]}")


def run_member(task, job_id: str, host: str, gpus: list[int], endpoint: str, nodes: int) -> None:
    """The Celery task: run this host's ranks of a gang's job until they end; never raise."""
    settings: Settings = task.app.digits_settings
    events = worker_events(settings)
    try:
        job = events.store.get(job_id)
    except JobNotFound:
        return
    job_type = types.of(job)
    if job.status is not Status.RUN:
        return  # ended (aborted, failed) before this host's part started
    if (read_gang(events.store.folder(job_id)) or {}).get("endpoint") != endpoint:
        return  # a gang of an earlier run (this host was down meanwhile): not this run's
    ctx = JobContext(job, settings, events, celery=task.app)
    ctx.gpus = tuple(gpus)
    ctx.gang = Gang(endpoint, nodes, leads=False)
    try:
        job_type.run(ctx)
    except JobAborted:
        log.info("gang member %s of job %s stopped: aborted", host, job_id)
    except (JobError, JobLost) as exc:
        # The leader's ranks usually fail with these (a collective with a dead peer); if they
        # had finished instead, the leader would wait for this host in vain: it is told.
        log.info("gang member %s of job %s failed: %s", host, job_id, exc)
        request_gang_stop(events.store.folder(job_id), f"its ranks on host {host} failed: {exc}")
    except Exception:
        log.exception("gang member %s of job %s failed", host, job_id)
