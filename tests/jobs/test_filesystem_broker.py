import multiprocessing

import kombu

from digits.config import Settings
from digits.jobs.filesystem_broker import connection_url
from digits.jobs.messaging import broker_transport_options

COUNT, BODY = 150, "x" * 300_000  # big enough that writing one message takes a while


def _connection(jobs_dir) -> kombu.Connection:
    settings = Settings(jobs_dir=jobs_dir, broker_polling_interval=0.001)
    options = {"transport_options": broker_transport_options(settings)}
    return kombu.Connection(connection_url(settings.broker_url), **options)


def _produce(jobs_dir) -> None:
    with _connection(jobs_dir) as conn:
        queue = conn.SimpleQueue("whole")
        for n in range(COUNT):
            queue.put({"n": n, "body": BODY})


def test_consumers_only_ever_see_whole_messages(jobs_dir):
    """Large messages from another process while a consumer polls: all arrive, whole, in order."""
    with _connection(jobs_dir) as conn:
        queue = conn.SimpleQueue("whole")
        producer = multiprocessing.get_context("spawn").Process(target=_produce, args=(jobs_dir,))
        producer.start()
        received = []
        while len(received) < COUNT:
            message = queue.get(block=True, timeout=30)
            received.append(message.payload)
            message.ack()
        producer.join()
    assert [m["n"] for m in received] == list(range(COUNT))
    assert all(m["body"] == BODY for m in received)


def _bind_many(jobs_dir, worker: int) -> None:
    with _connection(jobs_dir) as conn:
        for n in range(20):
            kombu.Queue(f"q{worker}-{n}", kombu.Exchange("shared", "fanout"))(
                conn.default_channel
            ).declare()


def test_concurrent_bindings_are_all_kept(jobs_dir):
    """Processes binding queues to one exchange at once (workers starting): none is lost."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_bind_many, args=(jobs_dir, w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    with _connection(jobs_dir) as conn:
        table = conn.default_channel.get_table("shared")
    assert sorted(binding.queue for binding in table) == sorted(
        f"q{w}-{n}" for w in range(3) for n in range(20)
    )
