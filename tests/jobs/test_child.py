"""Jobs in a child process group (digits.jobs.child): what the worker makes of how the child
ended (done, a reason it gave, killed without a word, aborted), and the child's own output."""

import sys
import time

import pytest

from digits.config import CPU_QUEUE
from digits.jobs.child import OUTPUT_FILE, run_in_child
from digits.jobs.context import JobAborted, JobContext, JobError, JobLost, request_abort
from digits.jobs.events import JobEvents
from digits.jobs.job import Job, new_job_id
from digits.jobs.status import Status
from digits.jobs.store import JobStore

# A child as job types write them: child_main runs the function with the job's context.
CHILD = """
import os, signal, sys, time
from digits.jobs.child import child_main
from digits.jobs.context import JobError

def run(ctx):
    print("hello from the child", flush=True)
    ctx.log("a line of the job's log")
    {body}

child_main(run)
"""


@pytest.fixture
def context(settings, monkeypatch):
    for name, value in settings.to_environment().items():
        monkeypatch.setenv(name, value)  # as the worker's own environment holds them
    store = JobStore(settings.jobs_dir)
    job = Job(new_job_id(), "test-countdown-dataset", "dataset", "j", "fred", CPU_QUEUE, {})
    job.set_status(Status.RUN)
    store.create(job)
    return JobContext(job, settings, JobEvents(store, lambda *args, **kwargs: None))


def child_doing(body: str, stop_grace: float = 10.0):
    code = CHILD.format(body=body)
    return run_in_child(lambda ctx: ([sys.executable, "-c", code, ctx.job.id], {}), stop_grace)


def test_a_child_that_ends_well_leaves_its_output_and_its_log(context):
    child_doing("pass")(context)
    assert "hello from the child" in (context.folder / OUTPUT_FILE).read_text()
    logged = context.events.store.folder(context.job.id) / "events.jsonl"
    assert "a line of the job's log" in logged.read_text()


def test_the_reason_a_child_gives_is_the_jobs_error(context):
    with pytest.raises(JobError, match="the dataset has no images"):
        child_doing('raise JobError("the dataset has no images")')(context)


def test_a_child_killed_without_a_word_is_a_lost_run_not_an_error(context):
    with pytest.raises(JobLost):
        child_doing("os.kill(os.getpid(), signal.SIGKILL)")(context)


def test_an_abort_stops_the_child_and_the_job_ends_aborted(context):
    started = time.monotonic()
    request_abort(context.folder, "asked")
    with pytest.raises(JobAborted):
        child_doing("time.sleep(60)", stop_grace=5)(context)
    assert time.monotonic() - started < 30
