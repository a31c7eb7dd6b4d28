"""Gang leases: a job's GPUs on several hosts, all of them or none, never half of two gangs."""

import itertools
import multiprocessing
import time

from digits.hardware.gangs import GangLease, Share, place, try_gang_lease
from digits.hardware.leases import GpuPool, GpuRequest, Waiting

HOSTS = {"a": (0, 1), "b": (0, 1), "c": (0,)}


def test_the_fewest_hosts_serve_a_gang_the_leaders_first():
    free = {"a": [0, 1], "b": [0, 1, 2, 3], "c": [0]}
    assert place("a", free, 5) == [Share("a", (0, 1)), Share("b", (0, 1, 2))]
    assert place("c", free, 3) == [Share("c", (0,)), Share("b", (0, 1))]
    assert place("a", free, 8) is None  # more than is free
    assert place("d", free, 2) is None  # the leader's host must give some


def test_a_gang_takes_every_gpu_it_needs_or_none(tmp_path):
    lease = try_gang_lease(tmp_path, "a", HOSTS, GpuRequest(count=3), {"job_id": "first"})
    assert isinstance(lease, GangLease)
    assert lease.shares == [Share("a", (0, 1)), Share("b", (0,))] and lease.gpus == (0, 1)
    # A second gang of 3 would fit only by splitting the first: it holds nothing meanwhile.
    second = try_gang_lease(tmp_path, "b", HOSTS, GpuRequest(count=3), {"job_id": "second"})
    assert isinstance(second, Waiting)
    assert second.reason == "waiting for 3 free GPUs across hosts (free: 0 on a, 1 on b, 1 on c)"
    assert GpuPool(tmp_path, (0,), host="c").holders() == {0: None}
    lease.release()
    second = try_gang_lease(tmp_path, "b", HOSTS, GpuRequest(count=3), {"job_id": "second"})
    assert isinstance(second, GangLease)
    assert GpuPool(tmp_path, (0, 1), host="b").holders()[0] == {"job_id": "second"}


def _contend(jobs_dir, leader, rounds, results):
    done = 0
    while done < rounds:
        lease = try_gang_lease(jobs_dir, leader, HOSTS, GpuRequest(count=4), {"job_id": leader})
        if isinstance(lease, Waiting):
            time.sleep(0.001)
            continue
        start = time.monotonic()
        time.sleep(0.005)
        results.put((leader, start, time.monotonic()))
        lease.release()
        done += 1


def test_two_big_gangs_asking_together_take_turns_and_never_deadlock(tmp_path):
    """Each needs 4 of the 5 GPUs: only one can hold them at a time, and both finish."""
    results = multiprocessing.Queue()
    contenders = [
        multiprocessing.Process(target=_contend, args=(tmp_path, leader, 20, results))
        for leader in ("a", "b")
    ]
    for process in contenders:
        process.start()
    for process in contenders:
        process.join(timeout=60)
        assert process.exitcode == 0
    held = sorted(results.get() for _ in range(40))
    spans = sorted((start, end) for _, start, end in held)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))


def test_gpus_chosen_by_host_are_leased_as_named_or_not_at_all(tmp_path):
    named = GpuRequest(hosts=(("a", 1), ("c", 0)))
    elsewhere = try_gang_lease(tmp_path, "b", HOSTS, named, {"job_id": "x"})
    assert isinstance(elsewhere, Waiting) and elsewhere.elsewhere  # b is not one of them
    lease = try_gang_lease(tmp_path, "c", HOSTS, named, {"job_id": "x"})
    assert isinstance(lease, GangLease)
    assert lease.shares == [Share("c", (0,)), Share("a", (1,))]  # the leader's first
    again = try_gang_lease(tmp_path, "a", HOSTS, named, {"job_id": "y"})
    assert isinstance(again, Waiting) and not again.elsewhere
    missing = try_gang_lease(tmp_path, "a", HOSTS, GpuRequest(hosts=(("a", 0), ("c", 3))), {})
    assert missing.reason == "waiting for workers offering GPU c:3"
