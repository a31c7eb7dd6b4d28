"""Latency of live events and of starting a task, on the embedded broker and on Redis.

    .venv/bin/python benchmarks/events_and_queue.py [--events 200] [--jobs 20]

For each broker it starts a real `digits serve` and a real `digits worker`, then measures:
- emit -> client: a worker-side emitter (the one jobs use) sends events to a job's room; a
  Socket.IO client in that room records when each arrives;
- submit -> start: a job submitted over HTTP until its worker marks it Running (status history).
Each figure is printed beside the issue's target, with the ratio measured/target.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers

from digits.config import Settings  # noqa: E402
from digits.jobs.messaging import create_socketio_manager  # noqa: E402
from tests.support.processes import RedisServer, Server, start_worker, wait_until  # noqa: E402

TARGETS_MS = {  # from the backbone issue
    ("embedded", "emit p95"): 300,
    ("redis", "emit p95"): 150,
    ("embedded", "start median"): 500,
    ("redis", "start median"): 500,
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure_emit(server: Server, settings: Settings, job_id: str, count: int) -> list[float]:
    arrivals: dict[int, float] = {}
    done = threading.Event()

    def on_update(event):
        if event.get("update") == "bench":
            arrivals[event["n"]] = time.time()
            if len(arrivals) == count:
                done.set()

    client = socketio.Client()
    client.on("job update", on_update, namespace="/jobs")
    client.connect(server.url, namespaces=["/jobs"], transports=["websocket"])
    client.call("join", {"room": job_id}, namespace="/jobs", timeout=5)
    emitter = create_socketio_manager(settings, write_only=True)
    sent: dict[int, float] = {}
    for n in range(count):
        sent[n] = time.time()
        emitter.emit(
            "job update",
            {"job_id": job_id, "update": "bench", "n": n},
            namespace="/jobs",
            room=job_id,
        )
        time.sleep(0.01)
    done.wait(timeout=30)
    client.disconnect()
    return [(arrivals[n] - sent[n]) * 1000 for n in sent if n in arrivals]


def measure_start(server: Server, count: int) -> list[float]:
    session = requests.Session()
    latencies = []
    for _ in range(count):
        response = session.post(
            server.url + "/test/countdown.json",
            data={"username": "bench", "steps": "1", "delay": "0"},
        )
        job_id = response.json()["id"]

        def done(job_id=job_id):
            job = session.get(f"{server.url}/jobs/{job_id}.json").json()
            return job if job["status"] == "Done" else None

        history = {c["status"]: c["time"] for c in wait_until(done)["status_history"]}
        latencies.append((history["Running"] - history["Waiting"]) * 1000)
    return latencies


def run_broker(name: str, broker_url: str | None, events: int, jobs: int, tmp: Path) -> dict:
    jobs_dir = tmp / name / "jobs"
    jobs_dir.mkdir(parents=True)
    worker = start_worker(jobs_dir, broker_url, queues="cpu")
    server = Server(jobs_dir, broker_url, workers=False)
    try:
        settings = Settings(jobs_dir=jobs_dir, broker_url=broker_url or Settings.broker_url)
        first = measure_start(server, 1)  # also gives us a job whose room the client can join
        del first
        job_id = requests.get(server.url + "/index.json").json()["datasets"][0]["id"]
        emit = measure_emit(server, settings, job_id, events)
        start = measure_start(server, jobs)
    finally:
        server.stop()
        worker.stop()
    return {
        "emit median": statistics.median(emit),
        "emit p95": percentile(emit, 0.95),
        "emit received": len(emit),
        "start median": statistics.median(start),
        "start p95": percentile(start, 0.95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        results = {"embedded": run_broker("embedded", None, args.events, args.jobs, tmp)}
        redis_dir = tmp / "redis-data"
        redis_dir.mkdir()
        redis = RedisServer(redis_dir)
        try:
            results["redis"] = run_broker("redis", redis.url, args.events, args.jobs, tmp)
        finally:
            redis.stop()

    print(f"{'broker':<10}{'measure':<16}{'ms':>9}{'target':>9}{'ratio':>8}")
    for broker, figures in results.items():
        for measure in ("emit median", "emit p95", "start median", "start p95"):
            value = figures[measure]
            target = TARGETS_MS.get((broker, measure))
            ratio = f"{value / target:.2f}" if target else ""
            print(f"{broker:<10}{measure:<16}{value:>9.1f}{target or '':>9}{ratio:>8}")
        print(f"{broker:<10}{'events received':<16}{figures['emit received']:>9}/{args.events}")
    emb, red = results["embedded"], results["redis"]
    print(
        f"embedded/redis ratio: emit p95 {emb['emit p95'] / red['emit p95']:.1f}x, "
        f"start median {emb['start median'] / red['start median']:.1f}x"
    )


if __name__ == "__main__":
    main()
