"""A real stack per broker: `digits serve`, real workers, the real broker (embedded or Redis)."""

import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import socketio
from processes import Process, Server, data_roots_of, start_worker, wait_until

_redis_db = itertools.count(1)


@dataclass
class Stack:
    jobs_dir: Path
    broker_url: str | None
    server: Server
    worker: Process | None
    session: requests.Session

    @property
    def url(self) -> str:
        return self.server.url

    def submit(self, **fields) -> str:
        data = {"steps": "10", "delay": "0.05", **fields}
        response = self.session.post(self.url + "/test/countdown.json", data=data)
        assert response.status_code == 200, response.text
        return response.json()["id"]

    def job(self, job_id: str) -> dict:
        return self.session.get(f"{self.url}/jobs/{job_id}.json").json()

    def wait_for_status(self, job_id: str, status: str, timeout: float = 20.0) -> dict:
        return wait_until(lambda: (j := self.job(job_id))["status"] == status and j, timeout)

    def restart_server(self) -> None:
        self.server.stop()
        self.server = Server(self.jobs_dir, self.broker_url, workers=False, port=self.server.port)


def login(url: str) -> requests.Session:
    session = requests.Session()
    session.post(url + "/login", data={"username": "fred"}).raise_for_status()
    return session


def build_stack(tmp_path: Path, broker_url: str | None, own_workers: bool) -> Stack:
    jobs_dir = tmp_path / "jobs"
    if own_workers:
        server = Server(jobs_dir, broker_url)
        worker = None
    else:
        worker = start_worker(jobs_dir, broker_url)
        server = Server(jobs_dir, broker_url, workers=False)
    return Stack(jobs_dir, broker_url, server, worker, login(server.url))


def teardown_stack(stack: Stack) -> None:
    stack.server.stop()
    if stack.worker:
        stack.worker.stop()


@pytest.fixture(params=["embedded", "redis"])
def broker_url(request):
    if request.param == "embedded":
        return None
    server = request.getfixturevalue("redis_server")
    return f"{server.url[:-2]}/{next(_redis_db)}"


@pytest.fixture
def stack(tmp_path, broker_url):
    """`digits serve` with a separate `digits worker`, the layout of a multi-host install."""
    built = build_stack(tmp_path, broker_url, own_workers=False)
    yield built
    teardown_stack(built)


class EventRecorder:
    """A Socket.IO client on namespace /jobs that records what a page would receive."""

    def __init__(self, url: str):
        self.url = url
        self.events: list[dict] = []
        self.client = socketio.Client(reconnection=False)
        self.client.on("job update", self.events.append, namespace="/jobs")
        self.client.connect(url, namespaces=["/jobs"], transports=["websocket"])

    def join(self, room: str, since: int = 0) -> dict:
        return self.client.call(
            "join", {"room": room, "since": since}, namespace="/jobs", timeout=5
        )

    def for_job(self, job_id: str) -> list[dict]:
        return [e for e in self.events if e["job_id"] == job_id]

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture
def recorder_factory():
    recorders = []

    def make(url: str) -> EventRecorder:
        recorders.append(EventRecorder(url))
        return recorders[-1]

    yield make
    for recorder in recorders:
        recorder.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    """The default install, shared by a module's tests: `digits serve` with its own workers,
    a data root beside its jobs folder (`server.data`)."""
    jobs_dir = tmp_path_factory.mktemp("server") / "jobs"
    data_roots_of(jobs_dir).mkdir(parents=True)
    running = Server(jobs_dir)
    running.jobs_dir, running.data = jobs_dir, data_roots_of(jobs_dir)
    yield running
    running.stop()


def finished(server: Server, job_id: str, timeout: float = 120) -> dict:
    """The job once it has ended (Done, Error or Aborted)."""

    def ended():
        job = requests.get(f"{server.url}/jobs/{job_id}.json").json()
        return job if job["status"] in ("Done", "Error", "Aborted") else None

    return wait_until(ended, timeout, interval=0.2)
