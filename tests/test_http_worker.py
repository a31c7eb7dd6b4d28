"""The web server's worker: clients that send their requests slowly hold no thread, and no
address holds more than its share of connections."""

import socket
import threading
import time
from collections import Counter

import requests

from digits.http_worker import HEAD_SECONDS, SlowClientProofWorker
from tests.support.processes import Server, wait_until


def slow_client(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(b"GET /index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-slow: ")
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_slow_clients_hold_no_thread_and_are_closed(tmp_path):
    # 70 threads: ten times as many slow clients as threads once held every one of them.
    jobs_dir = tmp_path / "jobs"
    server = Server(jobs_dir, workers=False, env={"DIGITS_WEB_THREADS": "70"})
    try:
        clients = [slow_client(server) for _ in range(700)]
        for client in clients:
            client.sendall(b"a")  # a byte now and then, never the end of the head
        started = time.monotonic()
        answer = requests.get(server.url + "/index.json", timeout=5)
        assert answer.status_code == 200 and time.monotonic() - started < 2
        wait_until(lambda: all(closed_by_server(c) for c in clients), HEAD_SECONDS + 10, 0.5)
        assert requests.get(server.url + "/index.json", timeout=5).status_code == 200
    finally:
        server.discard()


class Worker(SlowClientProofWorker):
    """Only what admitting connections needs (no Gunicorn arbiter)."""

    max_per_address = 3

    def __init__(self):
        self.connections_by_address = Counter()
        self.addresses_lock = threading.Lock()


def test_an_address_holds_at_most_its_share_and_loopback_is_exempt():
    worker = Worker()
    far = ("203.0.113.7", 40000)
    assert [worker._admit(far) for _ in range(4)] == [True, True, True, False]
    worker._leave(far)
    assert worker._admit(far)  # a place given back is a place to take
    assert worker._admit(("198.51.100.1", 1))  # another address has its own share
    assert all(worker._admit(("127.0.0.1", port)) for port in range(10))
