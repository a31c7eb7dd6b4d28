"""The `digits` command as an operator uses it."""

import json
import os
import signal
import subprocess
import sys

import requests

from digits.accounts import Accounts
from tests.support.api import DATASETS, post
from tests.support.imagesets import make_class_folders
from tests.support.processes import (
    Process,
    Server,
    digits_env,
    free_port,
    heartbeat_files,
    wait_until,
)


def digits(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "digits", *args], capture_output=True, text=True, timeout=60
    )


def test_help_names_every_option_and_its_environment_variable():
    serve = digits("serve", "--help").stdout
    options = ("--host", "--port", "--jobs-dir", "--broker-url", "--data-roots", "--secret-key")
    variables = ("DIGITS_JOBS_DIR", "DIGITS_BROKER_URL", "DIGITS_DATA_ROOTS", "DIGITS_SECRET_KEY")
    for text in options + variables:
        assert text in serve
    worker = digits("worker", "--help").stdout
    for text in ("--queues", "--gpus", "--jobs-dir", "--broker-url", "DIGITS_BROKER_URL"):
        assert text in worker


def test_worker_refuses_unknown_queues():
    result = digits("worker", "--queues", "cpu,tpu")
    assert result.returncode != 0 and "--queues takes cpu, gpu" in result.stderr


def test_serve_starts_its_workers_and_stops_cleanly_with_them(jobs_dir):
    server = Server(jobs_dir)  # waits for the page and its workers' heartbeats
    beats = [json.loads(p.read_text()) for p in heartbeat_files(jobs_dir)]
    assert sorted(b["queues"] for b in beats) == [["cpu"], ["gpu"], ["infer"]]
    page = requests.get(server.url + "/")
    assert page.status_code == 200 and "Datasets" in page.text and "Models" in page.text
    assert server.stop(signal.SIGTERM) == 0
    assert heartbeat_files(jobs_dir) == []
    for beat in beats:
        assert not os.path.exists(f"/proc/{beat['pid']}"), "a worker outlived digits serve"


def test_serve_on_ctrl_c(jobs_dir):
    server = Server(jobs_dir, workers=False)
    assert server.stop(signal.SIGINT) == 0


def test_serve_refuses_to_listen_publicly_with_no_accounts(jobs_dir):
    result = digits("serve", "--host", "0.0.0.0", "--jobs-dir", str(jobs_dir), "--no-workers")
    assert result.returncode != 0
    assert "refusing to listen on 0.0.0.0 with no accounts" in result.stderr
    assert "digits user add NAME --admin" in result.stderr


def serve_publicly(jobs_dir, *flags, env=None):
    """`digits serve --host 0.0.0.0` (no workers) and its port."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "digits",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        str(port),
        "--no-workers",
        *flags,
    ]
    log = jobs_dir.parent / f"public-{port}.log"
    return Process(args, digits_env(jobs_dir, extra=env), log), port


def test_serve_listens_publicly_when_told_to_and_warns(jobs_dir):
    server, port = serve_publicly(jobs_dir, "--insecure-no-accounts")
    try:
        wait_until(lambda: "listening on 0.0.0.0 with no accounts" in server.output(), 20)
        assert "digits user add NAME" in server.output()
        # Listening beyond loopback, it answers whatever name it is reached by.
        url, host = f"http://127.0.0.1:{port}/index.json", {"Host": "digits.example:80"}
        wait_until(lambda: requests_get(url, host) == 200, 20)
    finally:
        server.stop()


def test_serve_makes_its_first_admin_from_the_environment(jobs_dir):
    server, port = serve_publicly(jobs_dir, env={"DIGITS_ADMIN_PASSWORD": "a long secret"})
    try:
        wait_until(lambda: requests_get(f"http://127.0.0.1:{port}/index.json") == 401, 20)
        accounts = Accounts(jobs_dir)
        assert accounts.get("admin").admin and accounts.check_password("admin", "a long secret")
    finally:
        server.stop()


def requests_get(url: str, headers: dict | None = None) -> int | None:
    """The status of a GET, or None while nothing answers."""
    try:
        return requests.get(url, headers=headers, timeout=2).status_code
    except requests.RequestException:
        return None


def test_serve_says_where_it_is_and_one_line_per_worker(jobs_dir):
    server = Server(jobs_dir)
    try:
        for _ in range(3):
            requests.get(server.url + "/", timeout=5)  # no line per request
        wait_until(lambda: server.output().count(" ready: queue ") == 3, 20)
        lines = [line for line in server.output().splitlines() if line.strip()]
        assert any(line.endswith(f"DIGITS is at {server.url}/") for line in lines)
        news = [line for line in lines if "running as root" not in line]
        # The address, whether users' code is sandboxed, and the three workers.
        assert len(news) == 5, "\n".join(lines)
        assert sum("sandbox" in line for line in news) == 1
        if os.geteuid() == 0:  # said once, not by Celery in each worker
            assert sum("running as root" in line for line in lines) == 1
    finally:
        server.stop()


def test_a_first_run_on_loopback_reads_images_from_the_users_folder(tmp_path):
    home = tmp_path / "home"
    folder = make_class_folders(home / "pictures", per_class=4, size=(8, 8))
    jobs_dir = tmp_path / "jobs"
    server = Server(jobs_dir, env={"HOME": str(home), "DIGITS_DATA_ROOTS": None})
    try:
        assert f"images are read from {home.resolve()} (your folder)" in server.output()
        dataset = post(
            server,
            DATASETS,
            method="folder",
            folder_train=str(folder),
            resize_width="8",
            resize_height="8",
            dataset_name="home",
        )
        assert dataset.status_code == 200, dataset.text
        outside = post(
            server,
            DATASETS,
            method="folder",
            folder_train="/etc",
            resize_width="8",
            resize_height="8",
            dataset_name="etc",
        )
        assert "folder_train" in outside.json()["errors"]
    finally:
        server.stop()
