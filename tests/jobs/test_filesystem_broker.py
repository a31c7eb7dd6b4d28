import threading

import kombu

from digits.config import Settings
from digits.jobs.filesystem_broker import connection_url
from digits.jobs.messaging import broker_transport_options


def test_consumers_only_ever_see_whole_messages(jobs_dir):
    """Large messages sent while a consumer polls: every one arrives, intact, in order."""
    settings = Settings(jobs_dir=jobs_dir, broker_polling_interval=0.001)
    url = connection_url(settings.broker_url)
    options = {"transport_options": broker_transport_options(settings)}
    count, body = 150, "x" * 300_000  # big enough that writing one takes a while
    received = []

    def consume():
        with kombu.Connection(url, **options) as conn:
            queue = conn.SimpleQueue("whole")
            while len(received) < count:
                message = queue.get(block=True, timeout=20)
                received.append(message.payload)
                message.ack()

    consumer = threading.Thread(target=consume)
    consumer.start()
    with kombu.Connection(url, **options) as conn:
        queue = conn.SimpleQueue("whole")
        for n in range(count):
            queue.put({"n": n, "body": body})
    consumer.join(timeout=60)
    assert [m["n"] for m in received] == list(range(count))
    assert all(m["body"] == body for m in received)
