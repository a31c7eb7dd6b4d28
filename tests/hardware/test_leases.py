"""GPU leases: one job per GPU, whatever the race, released however the holder ends."""

import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

from digits.hardware.leases import GpuPool, GpuRequest, Lease, Waiting

HOLD = """
import sys, time
from pathlib import Path
from digits.hardware.leases import GpuPool, GpuRequest
pool = GpuPool(Path(sys.argv[1]), [0, 1], host="h")
lease = pool.try_lease(GpuRequest((0,)), {"job_id": "20260101-000000-abcd", "name": "holder"})
print(type(lease).__name__, flush=True)
time.sleep(60)
"""


def _race(jobs_dir, request, rounds, results):
    """One contender: lease, hold a moment, release; record when it held what."""
    pool = GpuPool(jobs_dir, [0, 1, 2], host="h")
    done = 0
    while done < rounds:
        lease = pool.try_lease(request, {"job_id": str(os.getpid())})
        if isinstance(lease, Waiting):
            time.sleep(0.001)
            continue
        start = time.monotonic()
        time.sleep(0.005)
        end = time.monotonic()
        results.put([(gpu, start, end, os.getpid()) for gpu in lease.gpus])
        lease.release()
        done += 1


def test_racing_processes_never_share_a_gpu(tmp_path):
    requests = [
        GpuRequest(count=1),
        GpuRequest(count=2),
        GpuRequest((0,)),
        GpuRequest((1, 2)),
        GpuRequest(count=1),
        GpuRequest((2,)),
        GpuRequest(count=3),
    ]
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    racers = [ctx.Process(target=_race, args=(tmp_path, r, 15, results)) for r in requests]
    for racer in racers:
        racer.start()
    held = [results.get(timeout=60) for _ in range(len(requests) * 15)]
    for racer in racers:
        racer.join(timeout=10)
    by_gpu: dict[int, list] = {}
    for intervals in held:
        for gpu, start, end, pid in intervals:
            by_gpu.setdefault(gpu, []).append((start, end, pid))
    assert sorted(by_gpu) == [0, 1, 2]
    for gpu, intervals in by_gpu.items():
        intervals.sort()
        for (_, end, pid), (start, _, other) in zip(intervals, intervals[1:], strict=False):
            assert end <= start, f"GPU {gpu} held by {pid} and {other} at once"


def test_a_killed_holder_frees_its_gpu_at_once(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "Lease"
        pool = GpuPool(tmp_path, [0, 1], host="h")
        waiting = pool.try_lease(GpuRequest((0,)), {"job_id": "me"})
        assert isinstance(waiting, Waiting)
        assert waiting.reason == "waiting for GPU 0 held by holder (20260101-000000-abcd)"
        assert pool.holders() == {0: {"job_id": "20260101-000000-abcd", "name": "holder"}, 1: None}
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lease = pool.try_lease(GpuRequest((0,)), {"job_id": "me"})
    assert isinstance(lease, Lease) and lease.gpus == (0,)
    lease.release()


def test_a_lease_lasts_as_long_as_the_child_it_was_passed_to(tmp_path):
    """The worker's task may die; the training it started still holds the GPU until it ends."""
    pool = GpuPool(tmp_path, [0], host="h")
    lease = pool.try_lease(GpuRequest((0,)), {"job_id": "trainer"})
    child = subprocess.Popen(["sleep", "30"], pass_fds=lease.fds)
    try:
        lease.release()  # this process lets go; the child still has the file open
        assert isinstance(pool.try_lease(GpuRequest((0,)), {}), Waiting)
    finally:
        child.kill()
        child.wait()
    assert isinstance(again := pool.try_lease(GpuRequest((0,)), {}), Lease)
    again.release()


def test_any_n_takes_the_first_free_gpus(tmp_path):
    pool = GpuPool(tmp_path, [0, 1, 2, 3], host="h")
    first = pool.try_lease(GpuRequest((1,)), {"name": "a", "job_id": "1"})
    second = pool.try_lease(GpuRequest(count=2), {"name": "b", "job_id": "2"})
    assert second.gpus == (0, 2)
    third = pool.try_lease(GpuRequest(count=2), {"name": "c", "job_id": "3"})
    assert third.reason == (
        "waiting for 2 free GPUs: GPU 0 held by b (2); GPU 1 held by a (1); GPU 2 held by b (2)"
    )
    for lease in (first, second):
        lease.release()


def test_gpus_asked_for_by_an_older_waiting_job_are_kept_for_it(tmp_path):
    pool = GpuPool(tmp_path, [0, 1], host="h")
    ahead = [("older (1)", GpuRequest((0,)))]
    younger = pool.try_lease(GpuRequest((0,)), {"job_id": "2"}, ahead=ahead)
    assert younger.reason == "waiting for GPU 0 promised to older (1), which waited longer"
    # A younger job that wants another GPU is not held up by it.
    other = pool.try_lease(GpuRequest(count=1), {"job_id": "3"}, ahead=ahead)
    assert other.gpus == (1,)
    other.release()


def test_an_older_job_only_another_host_can_serve_keeps_nothing_here(tmp_path):
    pool = GpuPool(tmp_path, [0], host="h")
    lease = pool.try_lease(GpuRequest((0,)), {}, ahead=[("big (1)", GpuRequest((0, 1)))])
    assert lease.gpus == (0,)
    lease.release()


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (GpuRequest((4,)), "waiting for a worker with GPU 4"),
        (GpuRequest(count=3), "waiting for a worker with 3 GPUs"),
    ],
)
def test_a_request_this_host_can_never_meet_says_so(tmp_path, request_, reason):
    waiting = GpuPool(tmp_path, [0, 1], host="h").try_lease(request_, {})
    assert waiting == Waiting(reason, elsewhere=True)


def test_gpus_chosen_by_host_are_that_hosts_alone(tmp_path):
    pinned = GpuRequest(hosts=(("a", 1),))
    elsewhere = GpuPool(tmp_path, [0, 1], host="b").try_lease(pinned, {"job_id": "x"})
    assert isinstance(elsewhere, Waiting) and elsewhere.elsewhere
    assert elsewhere.reason == "waiting for a worker on host a"
    lease = GpuPool(tmp_path, [0, 1], host="a").try_lease(pinned, {"job_id": "x"})
    assert isinstance(lease, Lease) and lease.gpus == (1,)
