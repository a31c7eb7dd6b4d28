"""The embedded broker: kombu's filesystem transport, with messages that appear whole.

Kombu's own transport creates a message file and then writes into it, while a consumer may
already be moving and reading it: the consumer then gets half a message (measured here: about
one Socket.IO event in 200 lost, and a one-second stall while the reader recovers; a task
message could be lost the same way). Ours writes each message under a hidden name and renames
it into view, so a consumer only ever sees complete files. Its names also sort by nanosecond,
keeping the order of messages sent within one millisecond.
"""

from __future__ import annotations

import os
import time
import uuid

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
