"""The broker connections: Celery's transport options and the Socket.IO message queue.

Both ride on the same broker: the embedded one (kombu's `filesystem://` transport in the jobs
folder) by default, or Redis when DIGITS_BROKER_URL says so.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import socketio

from digits.config import Settings
from digits.jobs.filesystem_broker import connection_url

SOCKETIO_CHANNEL = "digits-socketio"
# Processed broker messages older than this are removed by housekeeping.
PROCESSED_MAX_AGE = 60.0


# Redis hands a message not yet acknowledged to another worker after this long. With late
# acknowledgement a training holds its message for hours or days, so such deliveries will
# happen; the runner drops them (the job is already Running, or a newer task replaced it). A
# short timeout keeps the cost of a dead worker low: the messages it held (a job it had taken,
# waiting jobs' rechecks) are back in the queue within 10 minutes.
REDIS_VISIBILITY_TIMEOUT = 600


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    if not settings.embedded_broker:
        return {"visibility_timeout": REDIS_VISIBILITY_TIMEOUT}
    queue_dir = settings.broker_dir / "queue"
    control_dir = settings.broker_dir / "control"
    processed_dir = settings.broker_dir / "processed"
    for folder in (queue_dir, control_dir, processed_dir):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue_dir),
        "data_folder_out": str(queue_dir),
        "control_folder": str(control_dir),
        # Taking a message is a rename into this folder; on the same filesystem a rename has one
        # winner, so two consumers never both get it (a move across filesystems copies first).
        "store_processed": True,
        "processed_folder": str(processed_dir),
        "polling_interval": settings.broker_polling_interval,
    }


def prune_processed_messages(settings: Settings, max_age: float = PROCESSED_MAX_AGE) -> int:
    """Remove consumed messages that the embedded broker keeps; returns how many went."""
    if not settings.embedded_broker:
        return 0
    folder = settings.broker_dir / "processed"
    cutoff = time.time() - max_age
    removed = 0
    for path in folder.glob("*.msg") if folder.exists() else ():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


class _EmbeddedKombuManager(socketio.KombuManager):
    """A KombuManager for the filesystem transport.

    The stock one names its queue with a fresh uuid at each start; the filesystem transport keeps
    every binding forever, so each restart would leave a queue that collects every event unread.
    One web server per jobs folder, so one stable queue name, purged at start.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._publish_lock = threading.Lock()

    def _queue(self):
        import kombu

        return kombu.Queue(f"{self.channel}.web", self._exchange(), durable=False)

    def purge_stale_events(self) -> None:
        with self._connection() as connection:
            self._queue()(connection.default_channel).purge()

    def _publish(self, data):
        with self._publish_lock:  # kombu connections are not thread-safe; request threads emit
            super()._publish(data)


def create_socketio_manager(settings: Settings, write_only: bool) -> socketio.PubSubManager:
    """The Socket.IO client manager: the server listens with it, workers emit with it."""
    if settings.embedded_broker:
        options = {"transport_options": broker_transport_options(settings)}
        manager = _EmbeddedKombuManager(
            connection_url(settings.broker_url),
            channel=SOCKETIO_CHANNEL,
            write_only=write_only,
            connection_options=options,
        )
        if not write_only:
            manager.purge_stale_events()
        return manager
    return socketio.RedisManager(
        settings.broker_url, channel=SOCKETIO_CHANNEL, write_only=write_only
    )
