"""`digits serve`: the web app on Gunicorn (threads, WebSockets), by default with its workers."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from gunicorn.app.base import BaseApplication

from digits.config import QUEUES, Settings
from digits.http_worker import worker_class
from digits.jobs.workers import WorkerGroup, plan_workers

log = logging.getLogger(__name__)

# How long `serve` waits for its workers at shutdown; a busy one finishes its job after that.
SHUTDOWN_GRACE = 10.0


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 5000
    start_workers: bool = True
    cpu_concurrency: int = 2
    gpus: tuple[int, ...] = ()
    debug: bool = False


class WebServer(BaseApplication):
    def __init__(self, settings: Settings, options: ServeOptions):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"{self.options.host}:{self.options.port}")
        # Socket.IO needs every request of a client to reach the same process: one Gunicorn
        # worker process, with a thread per connection (Settings.web_threads, made as needed).
        self.cfg.set("workers", 1)
        # Gunicorn's threads, which slow clients cannot hold (digits/http_worker.py).
        self.cfg.set("worker_class", worker_class(self.settings.max_connections_per_address))
        self.cfg.set("threads", self.settings.web_threads)
        # A new connection silent this long is closed (Gunicorn's default is 2 s; browsers
        # open connections ahead of the requests they will send).
        self.cfg.set("keepalive", 5)
        # Connections held at once: the threads' plus idle keep-alive ones.
        self.cfg.set("worker_connections", self.settings.web_threads + 1000)
        self.cfg.set("graceful_timeout", 3)
        # Every request (each page's Socket.IO polls among them) and Gunicorn's start-up lines
        # only when debugging: `serve` itself says where DIGITS is.
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            self.cfg.set("accesslog", "-")
        else:
            self.cfg.set("loglevel", "warning")
        # Gunicorn's runtime control socket sits at one path per user: two servers on a
        # machine would share it, and nothing here uses it.
        self.cfg.set("control_socket_disable", True)
        self.cfg.set("proc_name", "digits-serve")

    def load(self):
        from digits.webapp import create_app

        return create_app(self.settings)


def serve(settings: Settings, options: ServeOptions) -> None:
    workers = None
    if options.start_workers:
        plans = plan_workers(
            list(QUEUES), socket.gethostname(), options.cpu_concurrency, list(options.gpus)
        )
        workers = WorkerGroup(settings, plans)
        workers.start()
    try:
        log.info("DIGITS is at http://%s:%d/", _display_host(options.host), options.port)
        if options.debug:
            _serve_debug(settings, options)
        else:
            WebServer(settings, options).run()  # returns (SystemExit) on SIGTERM or Ctrl-C
    finally:
        if workers:
            workers.stop(grace=SHUTDOWN_GRACE)


def _display_host(host: str) -> str:
    """The address to open in a browser: a wildcard listener is reached on this machine."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _serve_debug(settings: Settings, options: ServeOptions) -> None:
    from digits.webapp import create_app
    from digits.webapp.realtime import socketio

    app = create_app(settings)
    socketio.run(
        app,
        host=options.host,
        port=options.port,
        debug=True,
        use_reloader=False,
        allow_unsafe_werkzeug=True,
    )
