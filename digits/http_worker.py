"""The web server's Gunicorn worker: Gunicorn's threads, which slow clients cannot hold.

Gunicorn's `gthread` worker hands a connection to a thread as soon as its first bytes arrive,
and the thread then waits, blocking, for the rest of the request's head. A client that sends
its headers a byte every few seconds (slowloris) so holds a thread for as long as it likes:
1,100 of them held all 1,024 and every request timed out (benchmarks/idle_pages.py).

Here a request's head is gathered while the connection waits in Gunicorn's poller, which costs
no thread: whatever has arrived is read without blocking and kept in the connection's parser,
and the connection goes back to the poller until the head is complete. A head not complete
within HEAD_SECONDS of its first byte closes the connection. Once a thread has a request, a
read that waits longer than READ_SECONDS (a body that stalls) ends it too: a page's WebSocket
answers the server's pings every 25 s, well within it. And no address may hold more than
`max_per_address` connections at once (`DIGITS_MAX_CONNECTIONS_PER_ADDRESS`); loopback, where
the person's own browser or a proxy in front of us connects from, is exempt.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
import time
from collections import Counter

from gunicorn.workers import gthread

HEAD_SECONDS = 10.0
READ_SECONDS = 60.0
MAX_HEAD = 64 * 1024  # beyond it, Gunicorn's own limits answer (431 or 400)
HEAD_ENDS = (b"\r\n\r\n", b"\n\n")
MAX_DRAIN = 1024 * 1024  # bytes read from a client being closed, at most


class Connection(gthread.TConn):
    """Gunicorn's connection, which knows when its request's head is due and gives its
    address's place back when it closes."""

    def __init__(self, cfg, sock, client, server, release):
        super().__init__(cfg, sock, client, server)
        self.head_due: float | None = None
        self._release = release

    def close(self, graceful: bool = False) -> None:
        """Closed on Gunicorn's one event-loop thread: never waiting on the client there.
        (Gunicorn's graceful close lingers up to 2 s for the client's last bytes; a client
        that sends them slowly would stall every other connection meanwhile.)"""
        release, self._release = self._release, None
        if release is not None:
            release(self.client)
        if graceful:
            _close_without_waiting(self.sock)
        else:
            super().close()


class SlowClientProofWorker(gthread.ThreadWorker):
    """`gthread`, with request heads gathered in the poller and a cap per address."""

    max_per_address = 256  # connections; 0: no cap (see worker_class)

    def init_process(self) -> None:
        self.connections_by_address: Counter[str] = Counter()
        self.addresses_lock = threading.Lock()
        super().init_process()

    def accept(self, listener) -> None:
        try:
            sock, client = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        if not self._admit(client):
            sock.close()  # this address holds its share already
            return
        self.nr_conns += 1
        self.enqueue_req(Connection(self.cfg, sock, client, listener.getsockname(), self._leave))

    def _admit(self, client) -> bool:
        address = _address(client)
        with self.addresses_lock:
            held = self.connections_by_address[address]
            if self.max_per_address and held >= self.max_per_address and not _is_loopback(address):
                return False
            self.connections_by_address[address] = held + 1
        return True

    def _leave(self, client) -> None:
        address = _address(client)
        with self.addresses_lock:
            self.connections_by_address[address] -= 1
            if self.connections_by_address[address] <= 0:
                del self.connections_by_address[address]

    def handle(self, conn):
        if self.cfg.is_ssl or not isinstance(conn, Connection):
            return super().handle(conn)  # TLS ends at a proxy in front of us, as the README says
        if not conn.initialized:
            conn.init()  # makes the parser, which keeps what has arrived
        head = _gather_head(conn)
        if head is not True:
            return head
        conn.sock.setblocking(True)
        conn.sock.settimeout(READ_SECONDS)
        conn.data_ready = True
        return super().handle(conn)


def _gather_head(conn: Connection):
    """True once the request's head has arrived; else gthread's "wait in the poller", or False
    to close a connection that is done or too slow."""
    now = time.monotonic()
    if conn.head_due is None:
        conn.head_due = now + HEAD_SECONDS
    unreader = conn.parser.unreader
    held = unreader.take_buffered()
    try:
        conn.sock.setblocking(False)
        while not _complete(held):
            chunk = conn.sock.recv(65536)
            if not chunk:
                return False  # the client went away
            held += chunk
    except BlockingIOError:
        unreader.unread(held)
        return gthread._DEFER if now < conn.head_due else False
    except OSError:
        return False
    unreader.unread(held)
    conn.head_due = None  # the next request on this connection gets its own time
    return True


def _close_without_waiting(sock) -> None:
    """FIN first, then what the client has sent already is read (so the kernel does not answer
    it with a reset that could cut our last response short), then closed."""
    drained = 0
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)
        while drained < MAX_DRAIN and (chunk := sock.recv(65536)):
            drained += len(chunk)  # an upload refused midway may still be pouring in
    except OSError:  # nothing more waiting (or the client is gone)
        pass
    finally:
        sock.close()


def _complete(held: bytes) -> bool:
    return len(held) > MAX_HEAD or any(end in held for end in HEAD_ENDS)


def _address(client) -> str:
    return client[0] if isinstance(client, tuple) and client else str(client)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def worker_class(max_per_address: int) -> type[SlowClientProofWorker]:
    """The worker class to give Gunicorn, with this server's cap per address."""
    return type("DigitsWorker", (SlowClientProofWorker,), {"max_per_address": max_per_address})
