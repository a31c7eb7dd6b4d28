"""Requests: short work that a page waits for (classify an image), done by a worker.

The web process loads no model and runs no network. It writes a request's files to
`<jobs>/.requests/<id>/`, sends a task on the `infer` queue, and waits for `answer.json` to
appear there (the jobs folder is shared by every host, so this works across hosts and brokers,
and needs no result backend). Workers keep what requests need (models) warm between them.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digits.config import INFER_QUEUE, RUN_REQUEST_TASK, Settings
from digits.files import write_json_atomically
from digits.jobs.heartbeats import node_of

log = logging.getLogger(__name__)

REQUEST_FILE = "request.json"
ANSWER_FILE = "answer.json"
POLL_INTERVAL = 0.01
FIRST_POLL_INTERVAL = 0.001
FIRST_POLLS_FOR = 0.2  # seconds
STALE_AFTER = 3600.0  # seconds after which an unanswered request's folder is removed


class RequestFailed(Exception):
    """A request that cannot be done as asked: its message is for the user (a 400)."""


class RequestTimedOut(Exception):
    """No worker answered in time (none running, or all busy)."""


@dataclass
class RequestContext:
    """What a handler gets: the settings, the request's folder (with its files), its payload."""

    settings: Settings
    folder: Path
    payload: dict[str, Any]
    host: str = ""  # the worker's host, as its GPU leases name it


Handler = Callable[[RequestContext], dict[str, Any]]
_handlers: dict[str, Handler] = {}


def register_handler(kind: str, handler: Handler) -> Handler:
    _handlers[kind] = handler
    return handler


def requests_dir(settings: Settings) -> Path:
    return settings.jobs_dir / ".requests"


def ask(
    settings: Settings,
    celery,
    kind: str,
    payload: dict[str, Any],
    files: dict[str, bytes] | None = None,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Send a request to a worker and wait for its answer (RequestFailed, RequestTimedOut)."""
    folder = requests_dir(settings) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        for name, data in (files or {}).items():
            (folder / name).write_bytes(data)
        write_json_atomically(
            folder / REQUEST_FILE, {"kind": kind, "payload": payload}, durable=False
        )
        celery.send_task(RUN_REQUEST_TASK, args=[kind, folder.name], queue=INFER_QUEUE)
        answer = _wait_for_answer(folder / ANSWER_FILE, timeout)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if "error" in answer:
        raise RequestFailed(answer["error"])
    return answer["result"]


def _wait_for_answer(path: Path, timeout: float) -> dict[str, Any]:
    # A warm model answers in a few milliseconds: look every millisecond at first, then less.
    start = time.monotonic()
    while not path.exists():
        waited = time.monotonic() - start
        if waited > timeout:
            raise RequestTimedOut(f"no worker answered within {timeout:g} s")
        time.sleep(FIRST_POLL_INTERVAL if waited < FIRST_POLLS_FOR else POLL_INTERVAL)
    return json.loads(path.read_text())


def run_request(task, kind: str, request_id: str) -> None:
    """The worker's side: run the handler, write its answer (or the error) beside the request."""
    settings: Settings = task.app.digits_settings
    folder = requests_dir(settings) / request_id
    try:
        request = json.loads((folder / REQUEST_FILE).read_text())
    except FileNotFoundError:
        return  # the asker gave up and cleaned up
    handler = _handlers.get(kind)
    host = node_of(task.request.hostname or "")
    try:
        if handler is None:
            raise RequestFailed(f"this worker does not know requests of kind {kind!r}")
        answer: dict[str, Any] = {
            "result": handler(RequestContext(settings, folder, request["payload"], host))
        }
    except RequestFailed as exc:
        answer = {"error": str(exc)}
    except Exception as exc:
        log.exception("request %s (%s) failed", request_id, kind)
        answer = {"error": f"the worker failed: {type(exc).__name__}: {exc}"}
    if folder.exists():
        write_json_atomically(folder / ANSWER_FILE, answer, durable=False)


def prune_stale_requests(settings: Settings, now: float | None = None) -> None:
    """Remove the folders of requests nobody waits for any more (a server that died waiting)."""
    now = time.time() if now is None else now
    folder = requests_dir(settings)
    for request in folder.iterdir() if folder.exists() else ():
        try:
            if now - request.stat().st_mtime > STALE_AFTER:
                shutil.rmtree(request, ignore_errors=True)
        except FileNotFoundError:
            continue
