"""Jobs submitted through the API run on a real worker, over the embedded broker and Redis."""

import time

import pytest

from tests.support.processes import start_worker, wait_until
from tests.support.stacks import build_stack, teardown_stack


def statuses(events):
    return [e["status"] for e in events if e["update"] == "status"]


def test_a_job_runs_to_done_and_its_events_arrive_live(stack, recorder_factory):
    recorder = recorder_factory(stack.url)
    recorder.join("job_management")
    job_id = stack.submit(steps="10", delay="0.05")
    recorder.join(job_id)
    detail = stack.wait_for_status(job_id, "Done")
    assert detail["progress"] == 1.0
    assert [c["status"] for c in detail["status_history"]] == [
        "Initialized",
        "Waiting",
        "Running",
        "Done",
    ]
    assert detail["worker"] == "cpu@tests"

    wait_until(lambda: "Done" in statuses(recorder.for_job(job_id)))
    live = recorder.for_job(job_id)
    progress = [e["progress"] for e in live if e["update"] == "progress"]
    assert len(progress) >= 3 and progress == sorted(progress) and progress[-1] == 1.0
    assert any(e["update"] == "log" and e["line"] == "step 10/10" for e in live)


def test_a_page_that_reconnects_midway_still_gets_the_whole_history(stack, recorder_factory):
    job_id = stack.submit(steps="30", delay="0.05")
    first = recorder_factory(stack.url)
    seen = first.join(job_id)["events"]
    wait_until(lambda: any(e["update"] == "progress" for e in first.for_job(job_id)))
    seen += first.for_job(job_id)
    first.close()  # the page loses its connection while the job runs

    stack.wait_for_status(job_id, "Running")
    time.sleep(0.3)  # events keep coming while nobody listens
    next_seq = max(e["seq"] for e in seen) + 1
    second = recorder_factory(stack.url)
    caught_up = second.join(job_id, since=next_seq)["events"]
    stack.wait_for_status(job_id, "Done")
    wait_until(lambda: "Done" in statuses(caught_up + second.for_job(job_id)))

    received = {e["seq"]: e for e in seen + caught_up + second.for_job(job_id)}
    last = max(received)
    assert sorted(received) == list(range(last + 1)), "no event may be missing"
    assert statuses(received[s] for s in sorted(received)) == [
        "Initialized",
        "Waiting",
        "Running",
        "Done",
    ]
    assert sum(1 for e in received.values() if e["update"] == "log") == 30


# "warm": the job's steps in a child forked from the worker (Classify Many's way).
@pytest.mark.parametrize("kind", ["dataset", "warm"])
def test_abort_stops_a_running_job_within_seconds(stack, kind):
    job_id = stack.submit(kind=kind, steps="400", delay="0.05")
    stack.wait_for_status(job_id, "Running")
    wait_until(lambda: stack.job(job_id)["progress"] > 0)
    response = stack.session.post(f"{stack.url}/jobs/{job_id}/abort.json")
    assert response.status_code == 200
    detail = stack.wait_for_status(job_id, "Aborted", timeout=5)
    assert detail["progress"] < 1.0
    if kind == "warm":  # the step reporting stopped with it: no child went on counting
        progress = stack.job(job_id)["progress"]
        time.sleep(0.5)
        assert stack.job(job_id)["progress"] == progress


@pytest.mark.parametrize("kind", ["dataset", "warm"])
def test_a_failing_job_ends_in_error_with_its_reason(stack, kind):
    job_id = stack.submit(kind=kind, steps="5", fail_at="2")
    detail = stack.wait_for_status(job_id, "Error")
    assert detail["error"] == "ValueError: failed at step 2 as asked"
    page = stack.session.get(f"{stack.url}/datasets/{job_id}").text
    assert "failed at step 2 as asked" in page and "Traceback" in page  # in the log, for the user


def test_cpu_jobs_are_not_blocked_by_a_long_gpu_job(stack):
    long_model = stack.submit(kind="model", steps="400", delay="0.05")
    stack.wait_for_status(long_model, "Running")
    second_model = stack.submit(kind="model", steps="400", delay="0.05")
    dataset = stack.submit(kind="dataset", steps="3", delay="0.01")
    stack.wait_for_status(dataset, "Done", timeout=10)
    assert stack.job(long_model)["status"] == "Running"
    for job_id in (long_model, second_model):
        stack.session.post(f"{stack.url}/jobs/{job_id}/abort.json")
        stack.wait_for_status(job_id, "Aborted")


def test_a_job_aborted_while_queued_never_runs(tmp_path, broker_url, recorder_factory):

    stack = build_stack(tmp_path, broker_url, own_workers=False)
    stack.worker.stop()  # nobody serves the queues now
    stack.worker = None
    try:
        job_id = stack.submit(steps="3")
        waiting = stack.job(job_id)
        assert waiting["status"] == "Waiting"
        assert waiting["status_reason"] == "no worker is serving queue cpu"
        stack.session.post(f"{stack.url}/jobs/{job_id}/abort.json")
        stack.worker = start_worker(stack.jobs_dir, broker_url)
        later = stack.submit(steps="2")  # queued behind it: once this is done, it was dequeued
        stack.wait_for_status(later, "Done")
        history = [c["status"] for c in stack.job(job_id)["status_history"]]
        assert history == ["Initialized", "Waiting", "Aborted"]
    finally:
        teardown_stack(stack)
