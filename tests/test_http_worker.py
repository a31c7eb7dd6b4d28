"""The web server's worker: no address holds more than its share of connections. (Slow
clients holding no thread is tried against a real server in tests/security.)"""

import threading
from collections import Counter

from digits.http_worker import SlowClientProofWorker


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
