"""One training across several hosts: two `digits worker`s named as two hosts, offering fake
GPUs (NVML's seam), whose ranks train with gloo on this CPU and meet at a rendezvous on
127.0.0.1 as ranks on two machines would."""

import json
import os
import signal

import pytest
import requests
import torch

from tests.support.api import MODELS, build_dataset, created, finished, post
from tests.support.fake_gpus import write_fake_gpus
from tests.support.imagesets import make_class_folders
from tests.support.processes import (
    Server,
    data_roots_of,
    processes_named,
    start_worker,
    wait_until,
)

FAKE = "DIGITS_FAKE_GPUS"
LOCAL = {"DIGITS_ADVERTISE_ADDRESS": "127.0.0.1"}


@pytest.fixture
def cluster(tmp_path):
    """Host node1 with 2 GPUs (and the CPU queue), host node2 with 1, and `digits serve`."""
    jobs_dir = tmp_path / "jobs"
    hosts = {
        "node1": ("cpu,gpu", {FAKE: str(write_fake_gpus(tmp_path / "two.json", count=2))}),
        "node2": ("gpu", {FAKE: str(write_fake_gpus(tmp_path / "one.json", count=1))}),
    }
    server = Server(jobs_dir, workers=False, env=LOCAL)
    server.workers = []

    def start_host(node: str) -> None:
        queues, env = hosts[node]
        server.workers.append(start_worker(jobs_dir, queues=queues, node=node, env=env | LOCAL))

    server.start_host = start_host
    try:
        for node in hosts:
            start_host(node)
        yield server
    finally:
        server.discard()
        for worker in server.workers:
            worker.discard()


def colors(server) -> str:
    """18 training images (6 a class), 16x16."""
    folder = make_class_folders(data_roots_of(server.jobs_dir) / "c", per_class=8, size=(16, 16))
    dataset = build_dataset(server, folder, "colors", size=16, folder_pct_val="25")
    assert finished(server, dataset)["status"] == "Done"
    return dataset


def model(server, dataset, name, **fields) -> str:
    """LeNet, one step of the whole training set (18 images), seeded (fields override)."""
    settings = {
        "method": "standard",
        "standard_networks": "lenet",
        "dataset": dataset,
        "train_epochs": "1",
        "batch_size": "18",
        "shuffle": "0",
        "learning_rate": "0.1",
        "lr_policy": "fixed",
        "solver_type": "SGD",
        "random_seed": "7",
        "probe_images": "0",
        "model_name": name,
    }
    return created(post(server, MODELS, **(settings | fields)))


def test_a_job_larger_than_any_host_trains_across_two_and_takes_one_hosts_step(cluster):
    dataset = colors(cluster)
    across = model(cluster, dataset, "three GPUs", select_gpu_count="3")
    one = model(cluster, dataset, "one GPU", select_gpu_count="1")
    for job_id in (across, one):
        job = finished(cluster, job_id, timeout=180)
        assert job["status"] == "Done", job
    detail = requests.get(f"{cluster.url}/models/{across}.json").json()
    # Whichever worker took it leads (its host first); the gang is both hosts' GPUs.
    hosts = sorted(detail["hosts"], key=lambda h: h["host"])
    assert hosts == [{"host": "node1", "gpus": [0, 1]}, {"host": "node2", "gpus": [0]}]
    assert detail["ranks"] == 3 and detail["batch_per_rank"] == 6
    page = requests.get(f"{cluster.url}/models/{across}").text
    assert "across 2 hosts: node" in page
    # 3 ranks of 6 images on two hosts take the step that one rank takes with all 18.
    weights = [
        torch.load(cluster.jobs_dir / j / "snapshot_epoch_1.pt", weights_only=True)["model"]
        for j in (across, one)
    ]
    for name, value in weights[1].items():
        assert torch.allclose(weights[0][name], value, atol=1e-6), name

    # Every lease of the gang ended with it.
    wait_until(lambda: all_free(cluster))


def test_gpus_chosen_by_host_train_there(cluster):
    dataset = colors(cluster)
    job_id = model(cluster, dataset, "named", select_gpus="node1:1,node2:0", batch_size="6")
    assert finished(cluster, job_id, timeout=180)["status"] == "Done"
    detail = requests.get(f"{cluster.url}/models/{job_id}.json").json()
    hosts = sorted(detail["hosts"], key=lambda h: h["host"])
    assert hosts == [{"host": "node1", "gpus": [1]}, {"host": "node2", "gpus": [0]}]
    assert detail["ranks"] == 2
    # One host's GPU chosen by host: that host trains it, alone.
    pinned = model(cluster, dataset, "pinned", select_gpus="node2:0")
    job = finished(cluster, pinned, timeout=120)
    assert job["status"] == "Done" and job["worker"] == "gpu@node2" and job["gpus"] == [0]


def all_free(cluster) -> bool:
    """No GPU of any live host is held."""
    report = requests.get(f"{cluster.url}/hardware.json").json()
    return all(g["held_by"] is None for h in report["hosts"] for g in h["gpus"])


def kill_host(cluster, node: str) -> None:
    """Host `node` lost: its workers and everything they started, killed outright."""
    for beat in (cluster.jobs_dir / ".workers").glob(f"*@{node}.json"):
        pid = json.loads(beat.read_text())["pid"]
        os.killpg(pid, signal.SIGKILL)


@pytest.mark.parametrize("which", [1, 0], ids=["member", "leader"])
def test_a_host_lost_mid_training_stops_the_gang_and_the_job_resumes_when_it_is_back(
    cluster, which
):
    dataset = colors(cluster)
    job_id = model(
        cluster, dataset, "long", select_gpu_count="3", train_epochs="40", batch_size="6"
    )
    wait_until((cluster.jobs_dir / job_id / "snapshot_epoch_1.pt").exists, 120)
    gang = json.loads((cluster.jobs_dir / job_id / "gang.json").read_text())
    host = gang["hosts"][which]["host"]  # the leader holds the rendezvous and the leases
    kill_host(cluster, host)

    def waiting_for_hosts():
        job = requests.get(f"{cluster.url}/jobs/{job_id}.json").json()
        reason = job["status_reason"] or ""
        return reason.startswith("waiting for workers with 3 GPUs together") and job

    # The other host's ranks stop within seconds (the leader's loss is seen when its heartbeat
    # goes stale), and the job waits to go on from its snapshot.
    waiting = wait_until(waiting_for_hosts, 60)
    assert waiting["status"] == "Waiting" and waiting["restarts"] == 1, waiting
    reasons = [change["reason"] or "" for change in waiting["status_history"]]
    assert any("resumed from the snapshot of epoch" in reason for reason in reasons), reasons
    cluster.start_host(host)  # back: the gang forms again and goes on where it stopped
    done = finished(cluster, job_id, timeout=180)
    assert done["status"] == "Done" and done["restarts"] == 1, done
    if which == 1:  # the leader's ranks saw the member go
        log = (cluster.jobs_dir / job_id / "events.jsonl").read_text()
        assert "another rank stopped answering" in log
    wait_until(lambda: all_free(cluster))


def test_two_jobs_each_needing_every_gpu_of_both_hosts_take_turns(cluster):
    dataset = colors(cluster)
    first, second = (
        model(cluster, dataset, name, select_gpu_count="3", train_epochs="3", batch_size="6")
        for name in ("first", "second")
    )
    # Neither holds part of the GPUs while waiting for the rest: one runs, then the other.
    for job_id in (first, second):
        job = finished(cluster, job_id, timeout=180)
        assert job["status"] == "Done", job
    reasons = [
        change["reason"] or ""
        for job_id in (first, second)
        for change in requests.get(f"{cluster.url}/jobs/{job_id}.json").json()["status_history"]
    ]
    assert any(r.startswith("waiting for 3 free GPUs across hosts") for r in reasons), reasons
    wait_until(lambda: all_free(cluster))


def test_abort_stops_every_hosts_ranks_and_frees_the_gang(cluster):
    dataset = colors(cluster)
    job_id = model(
        cluster, dataset, "aborted", select_gpu_count="3", train_epochs="400", batch_size="6"
    )
    wait_until((cluster.jobs_dir / job_id / "snapshot_epoch_1.pt").exists, 120)
    abort = post(cluster, f"/jobs/{job_id}/abort.json")
    assert abort.status_code == 200
    job = finished(cluster, job_id, timeout=60)
    assert job["status"] == "Aborted" and job["status_reason"] == "aborted by the user"
    # No rank of it is left on either host, and its GPUs are free.
    wait_until(lambda: not processes_named(b"digits.models.train", job_id.encode()), 30)
    wait_until(lambda: all_free(cluster))


def test_a_failed_hosts_word_stops_the_leader_and_the_job_goes_on_from_its_snapshot(cluster):
    """What a gang's host whose ranks failed leaves for the leader (a failure that no
    collective reports, after the last step, say): the leader's ranks stop at once."""
    dataset = colors(cluster)
    job_id = model(
        cluster, dataset, "stopped", select_gpu_count="3", train_epochs="40", batch_size="6"
    )
    folder = cluster.jobs_dir / job_id
    wait_until((folder / "snapshot_epoch_1.pt").exists, 120)
    (folder / "gang_stop").write_text("its ranks on host node9 failed: a test says so")
    done = finished(cluster, job_id, timeout=180)
    assert done["status"] == "Done" and done["restarts"] == 1, done
    reasons = [change["reason"] or "" for change in done["status_history"]]
    assert any("resumed from the snapshot of epoch" in reason for reason in reasons), reasons
    assert not (folder / "gang_stop").exists()  # the next run's gang starts clean
