"""Starting workers: one Celery worker process per queue (`digits worker`, `digits serve`),
each with its heartbeat (see heartbeats) and the check of its own running jobs."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import warnings
from dataclasses import dataclass, replace

from celery import signals
from celery.exceptions import SecurityWarning

from digits.config import GPU_QUEUE, INFER_QUEUE, Settings
from digits.hardware.leases import GpuPool
from digits.jobs.celery_app import create_celery
from digits.jobs.context import worker_events
from digits.jobs.gang_runs import host_queue
from digits.jobs.guard import guarded
from digits.jobs.heartbeats import Heartbeat, node_of
from digits.jobs.recovery import recover_dead_runners
from digits.jobs.types import all_types, load_plugins
from digits.jobs.warm import warm_up

log = logging.getLogger(__name__)

# Seconds between looks at the embedded broker's queue folder by the worker of queue infer
# (Classify One, downloads): its requests answer a person in milliseconds, so it looks more often
# than the job workers (Settings.broker_polling_interval): 3.7% of a core while idle instead
# of 1.8% (measured on the 2-core machine).
INFER_POLLING_INTERVAL = 0.005


def run_worker(
    settings: Settings,
    queue: str,
    concurrency: int,
    hostname: str,
    gpus: list[int],
    loglevel: str = "INFO",
) -> None:
    """Run one Celery worker for one queue in this process until it is told to stop."""
    load_plugins(settings.plugins)
    if queue == INFER_QUEUE:  # a person waits on each of its requests
        settings = replace(settings, broker_polling_interval=INFER_POLLING_INTERVAL)
    pool = GpuPool(settings.jobs_dir, gpus, host=node_of(hostname))
    app = create_celery(settings, pool)

    def check_running_jobs() -> None:
        recover_dead_runners(worker_events(settings), app, hostname, settings.max_restarts)

    heartbeat = Heartbeat(settings, hostname, [queue], pool, on_beat=check_running_jobs)

    def ready(**_) -> None:
        heartbeat.start()
        log.info("worker %s ready: queue %s, %d at once", hostname, queue, concurrency)

    def quiet_celery(**_) -> None:
        # Celery's own news (connected, ready, each task received) only when debugging: a
        # person starting DIGITS sees our one line per worker.
        if not log.isEnabledFor(logging.DEBUG):
            logging.getLogger("celery").setLevel(logging.WARNING)

    # The command that started us has said it once (cli.warn_if_root).
    warnings.filterwarnings("ignore", category=SecurityWarning)
    signals.after_setup_logger.connect(quiet_celery, weak=False)
    signals.worker_ready.connect(ready, weak=False)
    preload = modules_to_preload(queue) if settings.warm_up else []
    signals.worker_process_init.connect(lambda **_: warm_up(preload), weak=False)
    signals.worker_shutdown.connect(lambda **_: heartbeat.stop(), weak=False)
    app.worker_main(
        [
            # One line when ready (above), not Celery's banner: details at --log-level DEBUG.
            *([] if log.isEnabledFor(logging.DEBUG) else ["--quiet"]),
            "worker",
            # A GPU worker also takes its host's part of jobs trained across hosts.
            f"--queues={queue},{host_queue(node_of(hostname))}"
            if queue == GPU_QUEUE
            else f"--queues={queue}",
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


def modules_to_preload(queue: str) -> list[str]:
    """The modules whose jobs on `queue` run in a warm fork of the worker (see warm)."""
    preloads = (getattr(job_type.run, "preload", None) for job_type in all_types())
    return [
        m
        for job_type, m in zip(all_types(), preloads, strict=True)
        if m and job_type.queue == queue
    ]


@dataclass(frozen=True)
class QueueWorker:
    """One Celery worker process: its queue, how many jobs it runs at once, its name."""

    queue: str
    concurrency: int
    node: str
    gpus: tuple[int, ...] = ()

    def command(self, loglevel: str) -> list[str]:
        return [
            sys.executable,
            "-P",  # the folder it starts in is not on its path: a `digits/` there is not us
            "-m",
            "digits",
            "worker",
            "--queues",
            self.queue,
            "--concurrency",
            str(self.concurrency),
            "--hostname",
            self.node,
            "--gpus",
            ",".join(map(str, self.gpus)) or "none",
            "--log-level",
            loglevel,
        ]


def infer_concurrency(cpus: int | None = None) -> int:
    """Requests a host's infer worker answers at once: one process per four cores, up to four.
    Each keeps the models it used loaded, so a few cores gain nothing from a second; a big host
    goes on answering others while one request runs long (up to its time limit)."""
    cpus = cpus or os.cpu_count() or 1
    return max(1, min(4, cpus // 4))


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
            plans.append(QueueWorker(queue, infer_concurrency(), node))
        else:
            plans.append(QueueWorker(queue, cpu_concurrency, node))
    return plans


class WorkerGroup:
    """Worker processes started, watched and stopped together (by `serve` or `worker`)."""

    def __init__(self, settings: Settings, plans: list[QueueWorker], loglevel: str = "INFO"):
        self.plans = plans
        self.loglevel = loglevel
        self.env = settings.child_environment()
        self.jobs_dir = settings.jobs_dir
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        for plan in self.plans:
            # Their own session: a Ctrl-C in the terminal reaches us, and we decide. Guarded:
            # should we be killed outright, they get SIGTERM (finish the job in hand, exit).
            command = guarded(plan.command(self.loglevel))
            # Started in the jobs folder, whose root no job can write, not the caller's folder.
            process = subprocess.Popen(
                command, env=self.env, start_new_session=True, cwd=self.jobs_dir
            )
            self.processes.append(process)

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
