"""GPU leases through the real job path: `digits serve` and `digits worker` offering two fake
GPUs (NVML's seam), countdown jobs that lease them, the Hardware page's JSON."""

import json
import os
import signal

import pytest
import requests

from digits.hardware.leases import GpuPool, GpuRequest, Lease
from tests.support.api import finished, login
from tests.support.fake_gpus import write_fake_gpus
from tests.support.imagesets import make_class_folders
from tests.support.processes import Server, data_roots_of, processes_named, start_worker, wait_until

FAKE = "DIGITS_FAKE_GPUS"


@pytest.fixture(scope="module")
def gpu_server(tmp_path_factory):
    """`digits serve` whose own GPU worker offers fake GPUs 0 and 1."""
    root = tmp_path_factory.mktemp("gpus")
    jobs_dir = root / "jobs"
    data_roots_of(jobs_dir).mkdir(parents=True)
    gpus = write_fake_gpus(root / "gpus.json", count=2, utilization=42)
    server = Server(jobs_dir, env={FAKE: str(gpus)})
    server.session = login(server.url)
    yield server
    server.discard()


def submit(server, name, steps=400, **fields) -> str:
    data = {"kind": "model", "name": name, "steps": str(steps), "delay": "0.05", **fields}
    response = server.session.post(server.url + "/test/countdown.json", data=data)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def job(server, job_id) -> dict:
    return requests.get(f"{server.url}/jobs/{job_id}.json").json()


def status(server, job_id, wanted, timeout=20.0) -> dict:
    return wait_until(lambda: (j := job(server, job_id))["status"] == wanted and j, timeout)


def hardware(server) -> dict:
    return requests.get(server.url + "/hardware.json").json()


def all_held(report) -> bool:
    return all(gpu["held_by"] for host in report["hosts"] for gpu in host["gpus"])


def abort(server, job_id) -> None:
    assert server.session.post(f"{server.url}/jobs/{job_id}/abort.json").status_code == 200


def test_jobs_on_different_gpus_run_together_and_others_wait_in_order(gpu_server):
    first = submit(gpu_server, "first", select_gpus="0")
    second = submit(gpu_server, "second", select_gpus="1")
    assert status(gpu_server, first, "Running")["gpus"] == [0]
    assert status(gpu_server, second, "Running")["gpus"] == [1]

    third = submit(gpu_server, "third", select_gpus="0")
    fourth = submit(gpu_server, "fourth", select_gpus="0")
    reason = f"waiting for GPU 0 held by first ({first})"
    wait_until(lambda: job(gpu_server, third)["status_reason"] == reason)
    # The Hardware page follows the workers' heartbeats, a beat or so behind.
    report = wait_until(lambda: all_held(r := hardware(gpu_server)) and r)
    [host] = report["hosts"]
    assert [(g["index"], g["utilization"], g["held_by"]["name"]) for g in host["gpus"]] == [
        (0, 42, "first"),
        (1, 42, "second"),
    ]
    assert {j["id"] for j in report["running"]} == {first, second}
    assert [j["id"] for j in report["waiting"]][:2] == [third, fourth]

    abort(gpu_server, first)
    assert status(gpu_server, third, "Running")["gpus"] == [0]
    # The fourth came later: it waits for the third, and was never ahead of it.
    wait_until(
        lambda: (job(gpu_server, fourth)["status_reason"] or "").endswith(
            f"held by third ({third})"
        )
    )
    abort(gpu_server, third)
    assert status(gpu_server, fourth, "Running")["gpus"] == [0]
    for job_id in (second, fourth):
        abort(gpu_server, job_id)
        finished(gpu_server, job_id)


def test_any_n_gpus_takes_the_free_ones_and_releases_them_when_done(gpu_server):
    busy = submit(gpu_server, "busy", select_gpus="0")
    status(gpu_server, busy, "Running")
    anyone = submit(gpu_server, "any one", steps=5, select_gpu_count="1")
    assert finished(gpu_server, anyone)["gpus"] == [1]
    both = submit(gpu_server, "both", steps=5, select_gpu_count="2")
    wait_until(
        lambda: (job(gpu_server, both)["status_reason"] or "").startswith("waiting for 2 free GPUs")
    )
    abort(gpu_server, busy)
    done = finished(gpu_server, both)
    assert done["status"] == "Done" and done["gpus"] == [0, 1]
    wait_until(lambda: all(g["held_by"] is None for g in hardware(gpu_server)["hosts"][0]["gpus"]))


def test_a_killed_worker_frees_its_gpus_and_its_job_is_not_left_running(tmp_path):
    jobs_dir = tmp_path / "jobs"
    gpus = write_fake_gpus(tmp_path / "gpus.json", count=1)
    env = {FAKE: str(gpus)}
    worker = start_worker(jobs_dir, queues="gpu", node="node1", env=env)
    server = Server(jobs_dir, workers=False)
    try:
        server.session = login(server.url)
        running = submit(server, "doomed", select_gpus="0")
        assert status(server, running, "Running")["worker"] == "gpu@node1"
        worker.kill_group()
        ended = status(server, running, "Error", timeout=30)
        assert ended["error"] == "worker gpu@node1 stopped while the job ran"
        assert hardware(server)["hosts"] == []

        worker = start_worker(jobs_dir, queues="gpu", node="node1", env=env)
        wait_until(lambda: (h := hardware(server)["hosts"]) and h[0]["gpus"][0]["held_by"] is None)
        assert (
            finished(server, submit(server, "next", steps=3, select_gpus="0"))["status"] == "Done"
        )
    finally:
        server.discard()
        worker.discard()


def post_json(server, path, **fields) -> str:
    response = server.session.post(server.url + path, data=fields)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def test_training_stops_and_frees_its_gpu_when_its_worker_is_killed(tmp_path):
    """The trainer runs in a session of its own: SIGKILL of the worker must still stop it; the
    job then goes on from its snapshot on a worker that can serve it."""
    jobs_dir = tmp_path / "jobs"
    data = data_roots_of(jobs_dir)
    env = {FAKE: str(write_fake_gpus(tmp_path / "gpus.json", count=1))}
    # Every `digits worker` started here, each stopped at the end: killing the GPU queue's
    # worker process leaves its parent and the cpu queue's worker running.
    workers = [start_worker(jobs_dir, node="node1", env=env)]
    server = Server(jobs_dir, workers=False)
    model = None
    try:
        server.session = login(server.url)
        folder = make_class_folders(data / "colors", per_class=8, size=(16, 16))
        dataset = post_json(
            server,
            "/datasets/images/classification.json",
            method="folder",
            folder_train=str(folder),
            folder_pct_val="25",
            resize_width="28",
            resize_height="28",
            dataset_name="colors",
        )
        assert finished(server, dataset)["status"] == "Done"
        model = post_json(
            server,
            "/models/images/classification.json",
            method="standard",
            standard_networks="lenet",
            train_epochs="10000",
            dataset=dataset,
            model_name="endless",
            batch_size="4",
        )
        wait_until(lambda: job(server, model)["snapshots"], timeout=60)
        assert job(server, model)["gpus"] == [0]
        assert processes_named(model.encode()), "the trainer's command line names its job"

        # The GPU queue's Celery worker (main process and pool) dies at once.
        beat = json.loads((jobs_dir / ".workers" / "gpu@node1.json").read_text())
        os.killpg(beat["pid"], signal.SIGKILL)
        wait_until(lambda: not processes_named(model.encode()), timeout=30)
        pool = GpuPool(jobs_dir, [0], host="node1")
        # Free once the last process has closed its files, a moment after its command line goes.
        lease = wait_until(
            lambda: isinstance(got := pool.try_lease(GpuRequest((0,)), {}), Lease) and got,
            timeout=5,
        )
        lease.release()
        # Noticed by the heartbeat, then queued to go on from its snapshot on any worker (the
        # page says that none serves queue gpu just now; the history says what happened).
        waiting = status(server, model, "Waiting", timeout=30)["status_history"][-1]["reason"]
        expected = "worker gpu@node1 stopped while the job ran; resumed from the snapshot of epoch"
        assert waiting.startswith(expected) and waiting.endswith("(restart 1 of 2)")
        workers.append(start_worker(jobs_dir, node="node1", env=env))
        assert status(server, model, "Running", timeout=30)["gpus"] == [0]
        abort(server, model)
        assert status(server, model, "Aborted", timeout=60)["restarts"] == 1
    finally:
        server.discard()
        for worker in workers:
            worker.discard()
        # Had the test failed, its trainer might still run: leave nothing behind.
        for pid in processes_named(model.encode()) if model else ():
            os.kill(pid, signal.SIGKILL)


def test_each_host_offers_its_own_gpus(tmp_path):
    """Two GPU hosts sharing the jobs folder: GPU 0 of one is not GPU 0 of the other."""
    jobs_dir = tmp_path / "jobs"
    one = start_worker(
        jobs_dir,
        queues="gpu",
        node="one",
        env={FAKE: str(write_fake_gpus(tmp_path / "1.json", count=1))},
    )
    two = start_worker(
        jobs_dir,
        queues="gpu",
        node="two",
        env={FAKE: str(write_fake_gpus(tmp_path / "2.json", count=2))},
    )
    cpu_only = start_worker(jobs_dir, queues="gpu", node="cpu", env={"DIGITS_GPUS": "none"})
    server = Server(jobs_dir, workers=False)
    try:
        server.session = login(server.url)
        # With GPUs in the cluster, a host offering none hands GPU jobs on.
        for n in range(3):
            quick = finished(server, submit(server, f"any {n}", steps=2, select_gpu_count="1"))
            assert quick["status"] == "Done" and quick["worker"] != "gpu@cpu"
        both = submit(server, "needs two", select_gpus="0,1")
        assert status(server, both, "Running")["worker"] == "gpu@two"
        single = submit(server, "needs one", select_gpus="0")
        assert status(server, single, "Running")["worker"] == "gpu@one"
        third = submit(server, "waits", select_gpus="0")
        wait_until(lambda: "held by" in (job(server, third)["status_reason"] or ""))
        report = wait_until(lambda: all_held(r := hardware(server)) and r)
        assert [(h["node"], len(h["gpus"])) for h in report["hosts"]] == [
            ("cpu", 0),
            ("one", 1),
            ("two", 2),
        ]
        abort(server, single)
        assert status(server, third, "Running")["worker"] == "gpu@one"
        for job_id in (both, third):
            abort(server, job_id)
    finally:
        server.discard()
        for worker in (one, two, cpu_only):
            worker.discard()
