"""`digits serve`: the web app on Gunicorn (threads, WebSockets), by default with its workers."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass

from gunicorn.app.base import BaseApplication

from digits.config import CPU_QUEUE, GPU_QUEUE, Settings

log = logging.getLogger(__name__)

# Socket.IO needs every request of a client to reach the same process: one Gunicorn worker
# process, with a thread per connection (WebSockets hold theirs).
WEB_THREADS = 100


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 5000
    start_workers: bool = True
    cpu_concurrency: int = 2
    gpu_concurrency: int = 1
    debug: bool = False


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment that hands our settings to a child process."""
    env = dict(os.environ)
    env.update(
        {
            "DIGITS_JOBS_DIR": str(settings.jobs_dir),
            "DIGITS_BROKER_URL": settings.broker_url,
            "DIGITS_DATA_ROOTS": os.pathsep.join(str(p) for p in settings.data_roots),
            "DIGITS_SECRET_KEY": settings.secret_key,
            "DIGITS_PLUGINS": ",".join(settings.plugins),
        }
    )
    return env


class ManagedWorkers:
    """The worker processes that `digits serve` starts and stops itself (embedded mode)."""

    def __init__(self, settings: Settings, options: ServeOptions):
        host = socket.gethostname()
        self.commands = [
            self._command(CPU_QUEUE, options.cpu_concurrency, f"{CPU_QUEUE}@{host}"),
            self._command(GPU_QUEUE, options.gpu_concurrency, f"{GPU_QUEUE}@{host}"),
        ]
        self.env = settings_environment(settings)
        self.processes: list[subprocess.Popen] = []

    @staticmethod
    def _command(queue: str, concurrency: int, hostname: str) -> list[str]:
        return [
            sys.executable, "-m", "digits", "worker",
            "--queues", queue, "--concurrency", str(concurrency), "--hostname", hostname,
        ]  # fmt: skip

    def start(self) -> None:
        for command in self.commands:
            # Their own session: a Ctrl-C in the terminal reaches `serve`, which then decides.
            self.processes.append(subprocess.Popen(command, env=self.env, start_new_session=True))

    def stop(self, grace: float = 10.0) -> None:
        """Warm shutdown: idle workers exit now; a busy one finishes its current job first."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log.warning(
                    "worker %s is finishing its running job and will exit when it ends", process.pid
                )


class WebServer(BaseApplication):
    def __init__(self, settings: Settings, options: ServeOptions):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"{self.options.host}:{self.options.port}")
        self.cfg.set("workers", 1)
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", WEB_THREADS)
        self.cfg.set("graceful_timeout", 3)
        self.cfg.set("accesslog", "-")
        self.cfg.set("proc_name", "digits-serve")

    def load(self):
        from digits.webapp import create_app

        return create_app(self.settings)


def serve(settings: Settings, options: ServeOptions) -> None:
    workers = ManagedWorkers(settings, options) if options.start_workers else None
    if workers:
        workers.start()
    try:
        if options.debug:
            _serve_debug(settings, options)
        else:
            WebServer(settings, options).run()  # returns (SystemExit) on SIGTERM or Ctrl-C
    finally:
        if workers:
            workers.stop()


def _serve_debug(settings: Settings, options: ServeOptions) -> None:
    from digits.webapp import create_app
    from digits.webapp.realtime import socketio

    app = create_app(settings)
    socketio.run(app, host=options.host, port=options.port, debug=True, use_reloader=False,
                 allow_unsafe_werkzeug=True)  # fmt: skip
