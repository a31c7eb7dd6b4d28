"""The Celery application, built from Settings by the server (to send) and the workers (to run)."""

from __future__ import annotations

from celery import Celery

from digits.config import CPU_QUEUE, RUN_JOB_TASK, RUN_MEMBER_TASK, RUN_REQUEST_TASK, Settings
from digits.hardware.leases import GpuPool
from digits.jobs.filesystem_broker import connection_url
from digits.jobs.gang_runs import run_member
from digits.jobs.messaging import broker_transport_options
from digits.jobs.page_requests import run_request
from digits.jobs.runner import run_job


class DigitsCelery(Celery):
    """The Celery app, and what its tasks read of this process: its settings and, on a
    worker, the GPUs it offers."""

    def __init__(self, settings: Settings, gpu_pool: GpuPool | None = None):
        super().__init__("digits", broker=connection_url(settings.broker_url), set_as_current=False)
        self.digits_settings: Settings = settings
        self.digits_gpu_pool: GpuPool = gpu_pool or GpuPool(settings.jobs_dir, ())


def create_celery(settings: Settings, gpu_pool: GpuPool | None = None) -> DigitsCelery:
    """The app; a worker passes the pool of GPUs it offers (none for the web server)."""
    app = DigitsCelery(settings, gpu_pool)
    app.conf.update(
        broker_transport_options=broker_transport_options(settings),
        broker_connection_retry_on_startup=True,
        # The job folder is the truth: no result backend to fill up or to go stale.
        task_ignore_result=True,
        task_default_queue=CPU_QUEUE,
        # Acknowledge when a job has ended, and hold no task a worker cannot start yet: a job
        # waits in the queue where any free worker can take it, not behind a busy one, and a
        # message taken by a worker that dies before starting it is delivered again (Redis).
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        # A task whose worker process died is not run again blindly by Celery: the job's folder
        # says how far it got, and digits.jobs.recovery resumes it from there, a bounded number
        # of times (the worker's heartbeat notices a dead process, the server a dead worker).
        task_reject_on_worker_lost=False,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
    )

    app.task(name=RUN_JOB_TASK, bind=True)(run_job)
    app.task(name=RUN_REQUEST_TASK, bind=True)(run_request)
    app.task(name=RUN_MEMBER_TASK, bind=True)(run_member)
    return app
