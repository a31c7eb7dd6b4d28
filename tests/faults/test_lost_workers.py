"""Workers and job processes that die: a job is never left showing Running; it goes on from
where it got to (a model's snapshot, a dataset's start) up to DIGITS_MAX_RESTARTS times."""

import json
import os
import signal
import time

import pytest
import requests

from tests.support.api import build_dataset, finished, train
from tests.support.imagesets import make_class_folders
from tests.support.processes import processes_named, wait_until
from tests.support.stacks import build_stack, teardown_stack


@pytest.fixture(scope="module")
def colors(server) -> str:
    """A Done dataset: three colours, 28x28, 32 training and 8 validation images per class."""
    folder = make_class_folders(server.data / "colors", per_class=40, size=(28, 28))
    dataset = build_dataset(server, folder, "colors")
    assert finished(server, dataset)["status"] == "Done"
    return dataset


def test_a_job_whose_worker_dies_is_not_left_running(tmp_path):
    stack = build_stack(tmp_path, None, own_workers=False)
    try:
        job_id = stack.submit(steps="400", delay="0.05")
        stack.wait_for_status(job_id, "Running")
        beat = json.loads((stack.jobs_dir / ".workers" / "cpu@tests.json").read_text())
        os.killpg(beat["pid"], signal.SIGKILL)  # the worker and its pool, as the OOM killer would
        detail = stack.wait_for_status(job_id, "Error", timeout=30)
        assert detail["error"] == "worker cpu@tests stopped while the job ran"
    finally:
        teardown_stack(stack)


# "warm": the job's steps run in a child forked from that pool process (Classify Many's way).
@pytest.mark.parametrize("kind", ["dataset", "warm"])
def test_a_job_whose_worker_process_dies_is_noticed_by_its_living_worker(stack, kind):
    job_id = stack.submit(kind=kind, steps="400", delay="0.05")
    stack.wait_for_status(job_id, "Running")
    wait_until(lambda: stack.job(job_id)["progress"] > 0)
    runner = json.loads((stack.jobs_dir / job_id / "job.json").read_text())["runner_pid"]
    os.kill(runner, signal.SIGKILL)  # one pool process; the worker and its heartbeat live on
    detail = stack.wait_for_status(job_id, "Error", timeout=20)
    assert detail["error"] == f"the process of worker cpu@tests that ran it (pid {runner}) died"
    log_lines = (stack.jobs_dir / job_id / "events.jsonl").read_text().count('"log"')
    time.sleep(0.5)  # its child was stopped with it: nothing goes on counting
    assert (stack.jobs_dir / job_id / "events.jsonl").read_text().count('"log"') == log_lines
    assert stack.wait_for_status(stack.submit(steps="2", delay="0"), "Done")  # still serving


def test_a_killed_training_process_is_resumed_automatically(server, colors):
    job_id = train(server, colors, train_epochs="60", batch_size="4", model_name="killed")
    wait_until(
        lambda: requests.get(f"{server.url}/models/{job_id}.json").json()["snapshots"],
        60,
        interval=0.1,
    )
    # The trainer (one rank: started by the worker itself, without torchrun).
    for pid in processes_named(job_id.encode(), b"digits.models.train", b"-u"):
        os.kill(pid, signal.SIGKILL)
    job = finished(server, job_id, timeout=180)
    assert job["status"] == "Done" and job["restarts"] == 1
    reasons = [change["reason"] or "" for change in job["status_history"]]
    assert any(
        r.startswith(
            "the job's process was killed by SIGKILL (out of memory?); resumed "
            "from the snapshot of epoch"
        )
        and r.endswith("(restart 1 of 2)")
        for r in reasons
    ), reasons
    assert job["snapshots"][-1] == 60


def test_a_dataset_build_killed_midway_starts_again_cleanly(server):
    """Its decoding processes and all: the job goes back to Waiting and builds from the start."""
    folder = make_class_folders(server.data / "many", per_class=700, size=(64, 64))
    response = requests.post(
        server.url + "/datasets/images/classification.json",
        data={
            "username": "fred",
            "method": "folder",
            "folder_train": str(folder),
            "resize_width": "32",
            "resize_height": "32",
            "dataset_name": "killed",
        },
    )
    job_id = response.json()["id"]
    wait_until(
        lambda: requests.get(f"{server.url}/datasets/{job_id}.json").json()["progress"] > 0.1,
        60,
        interval=0.05,
    )
    for pid in processes_named(b"digits.datasets.creation", job_id.encode()):
        os.kill(pid, signal.SIGKILL)
    job = finished(server, job_id, timeout=120)
    assert job["status"] == "Done" and job["restarts"] == 1
    reasons = [change["reason"] or "" for change in job["status_history"]]
    assert any(r.endswith("resumed from the start (restart 1 of 2)") for r in reasons), reasons
    assert (
        job["ParseFolderTasks"][0]["train_count"] + job["ParseFolderTasks"][0]["val_count"] == 2100
    )
    assert not (server.jobs_dir / job_id / ".build").exists()
