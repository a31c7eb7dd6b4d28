"""How many jobs and requests each of a host's worker processes takes at once."""

from digits.jobs.workers import gpu_worker_concurrency, infer_concurrency, plan_workers


def test_a_big_host_answers_several_requests_at_once_a_small_one_one():
    assert [infer_concurrency(cpus) for cpus in (1, 2, 4, 8, 16, 64)] == [1, 1, 1, 2, 4, 4]


def test_each_queue_gets_a_process_of_its_own():
    plans = {plan.queue: plan for plan in plan_workers(["cpu", "gpu", "infer"], "h", 3, [0, 1])}
    assert plans["cpu"].concurrency == 3
    assert plans["gpu"].concurrency == gpu_worker_concurrency([0, 1]) == 3
    assert plans["gpu"].gpus == (0, 1)
