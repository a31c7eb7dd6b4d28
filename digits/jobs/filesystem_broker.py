"""The embedded broker: kombu's filesystem transport, with files that appear whole.

Kombu's own transport creates a file and then writes into it, while another process may
already be reading it:
- a consumer could take a message before it was written (measured here: about one Socket.IO
  event in 200 lost, and a one-second stall while the reader recovered);
- a publisher could read a half-written exchange table (the bindings of queues to exchanges)
  while a worker or the server was binding its queue, and drop the message for want of a route,
  or fail; two processes binding at once could each overwrite the other's binding.
Ours writes every message and every table under a hidden name and renames it into view, and
serializes changes to a table with a lock file; readers only ever see complete files. Message
names also sort by nanosecond, keeping the order of messages sent within one millisecond.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
import uuid
from contextlib import contextmanager

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

SCHEME = "digitsfs"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{time.monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        hidden = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(hidden, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.rename(hidden, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add message {final!r} to the queue folder") from exc

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_for_change(exchange) as table:
            if binding not in table:
                table.insert(0, binding)

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        # The virtual channel's part (forgetting the queue) without kombu's in-place rewrite.
        filesystem.virtual.Channel._delete(self, queue, exchange, routing_key, pattern)
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_for_change(exchange) as table:
            if binding in table:
                table.remove(binding)

    @contextmanager
    def _table_for_change(self, exchange):
        """The exchange's bindings, to change in place; written back atomically, one writer."""
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        with open(f"{file}.lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            table = self.get_table(exchange)
            before = list(table)
            yield table
            if table != before:
                fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", dir=self.control_folder)
                with os.fdopen(fd, "wb") as f:
                    f.write(str_to_bytes(dumps(table)))
                os.replace(tmp, file)


class Transport(filesystem.Transport):
    Channel = Channel


def register() -> None:
    """Make `digitsfs://` URLs resolve to this transport (for Celery and Socket.IO alike)."""
    TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")


def connection_url(broker_url: str) -> str:
    """The URL to connect with: ours for the embedded broker, the given one otherwise."""
    if broker_url.startswith("filesystem:"):
        register()
        return SCHEME + broker_url[len("filesystem") :]
    return broker_url
