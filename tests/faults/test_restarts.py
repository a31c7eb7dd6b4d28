"""Restarting `digits serve` and the Redis server while a model trains: the training goes on,
its metrics stay complete, and its page is live again once they are back."""

import json

import pytest
import requests

from tests.support.api import finished, login
from tests.support.imagesets import make_class_folders
from tests.support.processes import RedisServer, Server, data_roots_of, start_worker, wait_until
from tests.support.stacks import EventRecorder


def statuses(events):
    return [e["status"] for e in events if e["update"] == "status"]


@pytest.mark.redis
def test_training_survives_restarts_of_the_server_and_redis(tmp_path):
    (tmp_path / "redis-1").mkdir()
    redis = RedisServer(tmp_path / "redis-1")
    url = redis.url
    jobs_dir = tmp_path / "jobs"
    worker = start_worker(jobs_dir, url, node="trainer")
    server = Server(jobs_dir, url, workers=False)
    try:
        session = login(server.url)
        folder = make_class_folders(data_roots_of(jobs_dir) / "colors", per_class=20, size=(28, 28))
        dataset = session.post(
            server.url + "/datasets/images/classification.json",
            data={
                "method": "folder",
                "folder_train": str(folder),
                "resize_width": "28",
                "resize_height": "28",
                "dataset_name": "colors",
            },
        ).json()["id"]
        assert finished(server, dataset)["status"] == "Done"
        model = session.post(
            server.url + "/models/images/classification.json",
            data={
                "method": "standard",
                "standard_networks": "lenet",
                "train_epochs": "150",
                "batch_size": "4",
                "dataset": dataset,
                "model_name": "long",
            },
        ).json()["id"]
        metrics = jobs_dir / model / "metrics.jsonl"
        wait_until(lambda: metrics.exists() and metrics.read_text(), 60)

        server.stop()
        redis.stop()
        epoch_while_down = json.loads(metrics.read_text().splitlines()[-1])["epoch"]
        wait_until(
            lambda: (
                json.loads(metrics.read_text().splitlines()[-1])["epoch"] > epoch_while_down + 1
            ),
            60,
        )  # it trains on, unwatched
        (tmp_path / "redis-2").mkdir()
        redis = RedisServer(tmp_path / "redis-2", port=redis.port)
        server = Server(jobs_dir, url, workers=False, port=server.port)

        recorder = EventRecorder(server.url)
        recorder.join(model)
        wait_until(lambda: any(e["update"] == "metrics" for e in recorder.for_job(model)), 60)
        job = finished(server, model, timeout=300)
        recorder.close()
        assert job["status"] == "Done"
        rows = [json.loads(line) for line in metrics.read_text().splitlines()]
        epochs = [row["epoch"] for row in rows if "train_loss" in row]
        assert epochs == sorted(epochs) and epochs[-1] == 150
        steps_per_report = {round(b - a, 4) for a, b in zip(epochs, epochs[1:], strict=False)}
        assert len(steps_per_report) <= 2  # no report missing while the others were down
        seqs = [
            json.loads(line)["seq"]
            for line in (jobs_dir / model / "events.jsonl").read_text().splitlines()
        ]
        assert seqs == list(range(len(seqs)))
        assert requests.get(f"{server.url}/models/{model}").status_code == 200
    finally:
        server.discard()
        worker.discard()
        redis.stop()


def test_restarting_the_server_leaves_the_job_running(stack, recorder_factory):
    job_id = stack.submit(steps="300", delay="0.05")  # 15 s: outlasts the restart
    stack.wait_for_status(job_id, "Running")
    stack.restart_server()
    assert stack.job(job_id)["status"] == "Running"
    recorder = recorder_factory(stack.url)
    history = recorder.join(job_id)["events"]
    stack.wait_for_status(job_id, "Done", timeout=60)
    wait_until(lambda: "Done" in statuses(recorder.for_job(job_id)))
    assert statuses(history + recorder.for_job(job_id)) == [
        "Initialized",
        "Waiting",
        "Running",
        "Done",
    ]
