"""Asking a worker of queue `infer` for short work a page waits for (the web server runs no
network): Classify One, a download's files, Visualize and the fit check of a new model."""

from __future__ import annotations

from flask import Flask

from digits.config import INFER_QUEUE
from digits.forms import field_error
from digits.jobs.page_requests import RequestFailed, RequestTimedOut, ask
from digits.webapp.http import error_response
from digits.webapp.services import services

ASK_TIMEOUT = 120.0  # seconds: a first request loads the model (a big one takes a while)


class ServiceUnavailable(Exception):
    """No worker to answer (none serving queue infer, or all busy past the timeout): a 503."""


def infer_worker_running() -> bool:
    return any(INFER_QUEUE in w.get("queues", ()) for w in services().live_workers())


def ask_worker(kind: str, payload: dict, files: dict[str, bytes], field: str) -> dict:
    """A request to a worker of queue `infer`; its refusal becomes an error on `field`."""
    if not infer_worker_running():
        raise ServiceUnavailable(
            f"no worker is serving queue {INFER_QUEUE}: start `digits "
            f"worker --queues {INFER_QUEUE}` (or `digits serve`)"
        )
    settings = services().settings
    try:
        return ask(settings, services().control.celery, kind, payload, files, ASK_TIMEOUT)
    except RequestFailed as exc:
        raise field_error(field, str(exc)) from None
    except RequestTimedOut as exc:
        raise ServiceUnavailable(f"{exc}: the workers of queue {INFER_QUEUE} are busy") from None


def init_app(app: Flask) -> None:
    @app.errorhandler(ServiceUnavailable)
    def unavailable(exc: ServiceUnavailable):
        return error_response(str(exc), 503)
