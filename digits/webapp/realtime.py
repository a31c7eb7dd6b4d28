"""Socket.IO: pages join a job's room (or the home page's) and get its history, then live news.

Workers emit into the rooms through the broker; this module only lets pages join and catch up.
"""

from __future__ import annotations

from flask import Flask
from flask_socketio import SocketIO, join_room

from digits.jobs.events import JOB_MANAGEMENT_ROOM, NAMESPACE
from digits.jobs.job import is_job_id
from digits.jobs.messaging import create_socketio_manager
from digits.jobs.store import JobNotFound
from digits.webapp.auth import current_user
from digits.webapp.http import plain_refusal
from digits.webapp.security import origin_allowed
from digits.webapp.services import services

socketio = SocketIO()


def init_app(app: Flask) -> None:
    settings = app.config["DIGITS_SETTINGS"]
    manager = create_socketio_manager(settings, write_only=False)

    def same_origin(origin: str | None, environ: dict) -> bool:
        # Any page of any site could otherwise open a socket here and read every job's news.
        return origin_allowed(origin, environ, settings.trusted_origins)

    socketio.init_app(
        app, async_mode="threading", client_manager=manager, cors_allowed_origins=same_origin
    )
    app.wsgi_app = LivePageLimit(app.wsgi_app, settings.max_live_pages, app)


def _open_pages() -> int:
    # engine.io forgets a closed WebSocket's session only later: count the open ones.
    return sum(not session.closed for session in list(socketio.server.eio.sockets.values()))


class LivePageLimit:
    """WSGI middleware: no new Socket.IO session beyond `limit` open ones (a 503; the page
    works on without live news and its client tries again later). Each open page holds a
    server thread, so without this idle pages could take every thread and starve requests.
    With accounts, a new session needs a user before it takes a slot (a 401): anonymous
    connections cannot fill the slots that users' pages need."""

    def __init__(self, app, limit: int, flask_app: Flask):
        self.app = app
        self.limit = limit
        self.flask_app = flask_app

    def __call__(self, environ, start_response):
        new_session = "sid=" not in environ.get("QUERY_STRING", "")
        if environ.get("PATH_INFO", "").startswith("/socket.io/") and new_session:
            if _open_pages() >= self.limit:
                body = b"503: too many pages are open on this server (DIGITS_WEB_THREADS)\n"
                return plain_refusal(start_response, "503 SERVICE UNAVAILABLE", body)
            if not self._has_a_user(environ):
                return plain_refusal(start_response, "401 UNAUTHORIZED", b"401: log in first\n")
        return self.app(environ, start_response)

    def _has_a_user(self, environ) -> bool:
        with self.flask_app.request_context(environ):
            return not services().accounts.enabled or current_user() is not None


def emit_to_room(event: str, data: dict, room: str) -> None:
    socketio.emit(event, data, namespace=NAMESPACE, to=room)


@socketio.on("connect", namespace=NAMESPACE)
def on_connect(auth=None):
    """With accounts, only a logged-in user's page (or a token holder) may listen."""
    return not (services().accounts.enabled and current_user() is None)


@socketio.on("join", namespace=NAMESPACE)
def on_join(data):
    """Join a room; the acknowledgement carries what happened before (nothing missed)."""
    room = data.get("room") if isinstance(data, dict) else None
    if room == JOB_MANAGEMENT_ROOM:
        join_room(room)  # the page then asks /index.json for its rows: a page, not every job
        return {"room": room}
    if not isinstance(room, str) or not is_job_id(room):
        return {"error": "no such job"}
    try:
        services().store.get(room)
    except JobNotFound:
        return {"error": "no such job"}
    join_room(room)
    since = data.get("since", 0)
    since = since if isinstance(since, int) and since >= 0 else 0
    return {"job_id": room, "events": services().history(room, since)}
