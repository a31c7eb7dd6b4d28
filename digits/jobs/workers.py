"""Which workers are alive and what they serve: each worker keeps a heartbeat file fresh.

The files live in the (shared) jobs folder, so the server knows, with no broker round trip,
whether a queue has a worker and whether the worker running a job is still there.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digits.config import GPU_QUEUE, INFER_QUEUE, Settings
from digits.files import write_json_atomically
from digits.hardware.leases import GpuPool
from digits.hardware.monitor import gpu_inventory
from digits.jobs.guard import guarded
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


def is_orphaned(job: Job, workers: list[dict[str, Any]]) -> bool:
    """A job marked Running whose worker has stopped beating."""
    return job.status is Status.RUN and job.worker not in {w.get("hostname") for w in workers}


def worker_name(queue: str, node: str) -> str:
    return f"{queue}@{node}"


def node_of(hostname: str) -> str:
    """The host part of a worker's name (`gpu@node`): the GPUs' owner."""
    return hostname.split("@", 1)[-1]


def run_worker(
    settings: Settings,
    queue: str,
    concurrency: int,
    hostname: str,
    gpus: list[int],
    loglevel: str = "INFO",
) -> None:
    """Run one Celery worker for one queue in this process until it is told to stop."""
    from celery import signals

    from digits.jobs.celery_app import create_celery
    from digits.jobs.types import load_plugins

    load_plugins(settings.plugins)
    pool = GpuPool(settings.jobs_dir, gpus, host=node_of(hostname))
    app = create_celery(settings, pool)

    def check_running_jobs() -> None:
        from digits.jobs.recovery import recover_dead_runners
        from digits.jobs.runner import worker_events

        recover_dead_runners(worker_events(settings), app, hostname, settings.max_restarts)

    heartbeat = Heartbeat(settings, hostname, [queue], pool, on_beat=check_running_jobs)
    signals.worker_ready.connect(lambda **_: heartbeat.start(), weak=False)
    signals.worker_shutdown.connect(lambda **_: heartbeat.stop(), weak=False)
    app.worker_main(
        [
            "worker",
            f"--queues={queue}",
            f"--concurrency={concurrency}",
            f"--hostname={hostname}",
            f"--loglevel={loglevel}",
            # No chatter between workers: nothing here uses it, and each costs start-up time
            # and broker traffic (the embedded broker polls files).
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ]
    )


@dataclass(frozen=True)
class QueueWorker:
    """One Celery worker process: its queue, how many jobs it runs at once, its name."""

    queue: str
    concurrency: int
    node: str
    gpus: tuple[int, ...] = ()

    def command(self, loglevel: str) -> list[str]:
        return [
            sys.executable, "-m", "digits", "worker", "--queues", self.queue,
            "--concurrency", str(self.concurrency), "--hostname", self.node,
            "--gpus", ",".join(map(str, self.gpus)) or "none", "--log-level", loglevel,
        ]  # fmt: skip


# One process answers a host's requests: each keeps the models it used loaded, and a second
# would load them again for little gain on a few cores.
INFER_CONCURRENCY = 1


def gpu_worker_concurrency(gpus: list[int]) -> int:
    """A slot per GPU, plus one that keeps looking at the queue: a job waiting for GPUs is
    told why at once, and takes them the moment they are free. With no GPUs, one CPU training
    at a time."""
    return len(gpus) + 1 if gpus else 1


def plan_workers(
    queues: list[str], node: str, cpu_concurrency: int, gpus: list[int]
) -> list[QueueWorker]:
    """One worker process per queue, so a long training never takes a dataset job's slot, and
    neither holds up a page waiting for a classification."""
    plans = []
    for queue in queues:
        if queue == GPU_QUEUE:
            plans.append(QueueWorker(queue, gpu_worker_concurrency(gpus), node, tuple(gpus)))
        elif queue == INFER_QUEUE:
            plans.append(QueueWorker(queue, INFER_CONCURRENCY, node))
        else:
            plans.append(QueueWorker(queue, cpu_concurrency, node))
    return plans


class WorkerGroup:
    """Worker processes started, watched and stopped together (by `serve` or `worker`)."""

    def __init__(self, settings: Settings, plans: list[QueueWorker], loglevel: str = "INFO"):
        self.plans = plans
        self.loglevel = loglevel
        self.env = settings.child_environment()
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        for plan in self.plans:
            # Their own session: a Ctrl-C in the terminal reaches us, and we decide. Guarded:
            # should we be killed outright, they get SIGTERM (finish the job in hand, exit).
            command = guarded(plan.command(self.loglevel))
            self.processes.append(subprocess.Popen(command, env=self.env, start_new_session=True))

    def stop(self, grace: float | None = None) -> None:
        """Warm shutdown: idle workers exit now; a busy one finishes its current job first.

        With a `grace`, stop waiting after that many seconds and leave busy workers to finish.
        """
        self.signal_all(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log.warning("worker %s finishes its running job, then exits", process.pid)

    def signal_all(self, signum: int) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signum)

    def wait(self) -> int:
        """Wait for every worker to exit; the worst exit code."""
        return max((process.wait() for process in self.processes), default=0)
