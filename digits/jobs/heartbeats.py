"""Which workers are alive and what they serve: each worker keeps a heartbeat file fresh.

The files live in the (shared) jobs folder, so the server knows, with no broker round trip,
whether a queue has a worker and whether the worker running a job is still there.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digits.config import Settings
from digits.files import write_json_atomically
from digits.hardware.leases import GpuPool
from digits.hardware.monitor import gpu_inventory
from digits.jobs.job import Job
from digits.jobs.status import Status

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 2.0
# A worker silent for this long is taken for gone: several missed beats, not one slow disk.
STALE_AFTER = 10.0


def heartbeat_path(settings: Settings, hostname: str) -> Path:
    return settings.workers_dir / f"{hostname}.json"


class Heartbeat:
    """Rewrites this worker's heartbeat file every HEARTBEAT_INTERVAL until stopped.

    A worker that offers GPUs adds their figures and holders: the Hardware page's inventory.
    """

    def __init__(
        self,
        settings: Settings,
        hostname: str,
        queues: list[str],
        pool: GpuPool,
        on_beat: Callable[[], None] | None = None,
    ):
        self.path = heartbeat_path(settings, hostname)
        self.pool = pool
        self.on_beat = on_beat
        self.info = {
            "hostname": hostname,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "queues": queues,
            "gpus": list(pool.offered),
            "started": time.time(),
        }
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="digits-heartbeat", daemon=True)

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        devices = gpu_inventory(self.pool) if self.pool.offered else []
        write_json_atomically(self.path, {**self.info, "devices": devices, "time": time.time()})

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_INTERVAL):
            try:
                self._write()
            except OSError:
                log.exception("could not write the heartbeat file %s", self.path)
            try:
                if self.on_beat:
                    self.on_beat()
            except Exception:
                log.exception("the heartbeat's check of running jobs failed")


def live_workers(settings: Settings, max_age: float = STALE_AFTER) -> list[dict[str, Any]]:
    """The workers whose heartbeat is fresh."""
    now, workers = time.time(), []
    for path in settings.workers_dir.glob("*.json") if settings.workers_dir.exists() else ():
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and now - info.get("time", 0) <= max_age:
            workers.append(info)
    return workers


def waiting_reason(job: Job, workers: list[dict[str, Any]]) -> str | None:
    """Why a waiting job is not running, when the answer is that nobody can run it."""
    if job.status is not Status.WAIT:
        return None
    if any(job.queue in worker.get("queues", ()) for worker in workers):
        return job.status_reason
    return f"no worker is serving queue {job.queue}"


def gpu_hosts(workers: list[dict[str, Any]], heard_since: float = 0.0) -> dict[str, set[int]]:
    """The GPU indexes each host offers, for hosts offering any. `heard_since`: only workers
    whose heartbeat is newer (a gang that lost a host forms again of hosts known to be alive
    since, not of one whose last heartbeat is merely recent)."""
    hosts: dict[str, set[int]] = {}
    for worker in workers:
        if worker.get("gpus") and worker.get("time", 0) > heard_since:
            hosts.setdefault(node_of(worker.get("hostname", "?")), set()).update(worker["gpus"])
    return hosts


def is_orphaned(job: Job, workers: list[dict[str, Any]]) -> bool:
    """A job marked Running whose worker has stopped beating."""
    return job.status is Status.RUN and job.worker not in {w.get("hostname") for w in workers}


def worker_name(queue: str, node: str) -> str:
    return f"{queue}@{node}"


def node_of(hostname: str) -> str:
    """The host part of a worker's name (`gpu@node`): the GPUs' owner."""
    return hostname.split("@", 1)[-1]
