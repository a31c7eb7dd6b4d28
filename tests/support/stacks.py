"""Real stacks as the integration and fault tests start them: `digits serve`, real workers and
the real broker (embedded or Redis), and a Socket.IO client that records what a page gets."""

from dataclasses import dataclass
from pathlib import Path

import requests
import socketio

from tests.support.api import login
from tests.support.processes import Process, Server, start_worker, wait_until


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
    stack.server.discard()
    if stack.worker:
        stack.worker.discard()


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
