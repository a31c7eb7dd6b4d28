"""Real processes for the tests: `digits serve`, `digits worker` and a private redis-server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

# The repository, on the path of every process a test starts, so that the stand-in job type
# (a plugin) imports in the server and the workers as it does here.
REPOSITORY = Path(__file__).resolve().parents[2]
PLUGIN = "tests.support.countdown_job"


def strict() -> bool:
    """In CI a missing Redis or Chromium fails the run; on a user's machine it skips."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(message: str) -> None:
    if strict():
        pytest.fail(f"{message} (CI needs it: .ci/run installs it)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout: float = 20.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout}s waiting for {condition}")
        time.sleep(interval)


def data_roots_of(jobs_dir: Path) -> Path:
    """The tests' data root: a `data` folder beside the jobs folder."""
    return jobs_dir.parent / "data"


def digits_env(
    jobs_dir: Path, broker_url: str | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    env = dict(os.environ) | {k: v for k, v in (extra or {}).items() if v is not None}
    env["DIGITS_DATA_ROOTS"] = str(data_roots_of(jobs_dir))
    env["DIGITS_JOBS_DIR"] = str(jobs_dir)
    env["DIGITS_PLUGINS"] = (extra or {}).get("DIGITS_PLUGINS") or PLUGIN
    env["DIGITS_SECRET_KEY"] = "tests"
    # Each worker importing torch in the background at start costs seconds of the two cores per
    # server the tests start; forked jobs still run forked (their first one imports first).
    env.setdefault("DIGITS_WARM_UP", "0")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
    env.pop("DIGITS_BROKER_URL", None)
    if broker_url:
        env["DIGITS_BROKER_URL"] = broker_url
    for name, value in (extra or {}).items():
        if value is None:  # asked to be unset
            env.pop(name, None)
    return env


class Process:
    """A child process in its own session, with its output in a log file for failed tests."""

    def __init__(
        self, args: list[str], env: dict[str, str], log_path: Path, cwd: Path | None = None
    ):
        self.log_path = log_path
        self.jobs_dir: Path | None = None  # where a server's or worker's heartbeats are
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            args,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.alive():
            self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            return self.popen.wait()
        finally:
            self._log.close()

    def discard(self) -> None:
        """End it, and the workers of its jobs folder, at once (see discard below)."""
        discard(self.jobs_dir, self) if self.jobs_dir else self.kill_group()

    def kill_group(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def heartbeat_files(jobs_dir: Path) -> list[Path]:
    folder = jobs_dir / ".workers"
    return sorted(folder.glob("*.json")) if folder.exists() else []


def discard(jobs_dir: Path, *processes: Process) -> None:
    """End these processes and every worker of the jobs folder at once: a fixture's teardown,
    where nothing is asserted about stopping (the tests of stopping call stop(), which takes
    seconds: Gunicorn's grace, and Celery's warm shutdown waits out a 2-second poll).

    Each worker leads a process group of its own (its pool processes in it), found from its
    heartbeat file; a job's child gets SIGTERM when its worker dies (digits.jobs.guard)."""
    for path in heartbeat_files(jobs_dir):
        try:
            pid = int(json.loads(path.read_text())["pid"])
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, KeyError, TypeError):
            continue  # gone already
        if b"digits" in command and b"worker" in command:  # not a pid reused since
            _kill_group(pid)
    for process in processes:
        process.kill_group()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_worker(
    jobs_dir: Path,
    broker_url: str | None = None,
    queues: str = "cpu,gpu",
    node: str = "tests",
    env: dict[str, str] | None = None,
) -> Process:
    """`digits worker`, waited for until each of its queue workers has said it is ready."""
    args = [
        sys.executable,
        "-m",
        "digits",
        "worker",
        "--queues",
        queues,
        "--concurrency",
        "2",
        "--hostname",
        node,
    ]
    worker = Process(
        args, digits_env(jobs_dir, broker_url, env), jobs_dir.parent / f"worker-{node}.log"
    )
    worker.jobs_dir = jobs_dir
    beats = [jobs_dir / ".workers" / f"{queue}@{node}.json" for queue in queues.split(",")]
    wait_until(lambda: all(p.exists() for p in beats) or not worker.alive())
    assert worker.alive(), worker.output()
    return worker


class Server(Process):
    def __init__(
        self,
        jobs_dir: Path,
        broker_url: str | None = None,
        workers: bool | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # -P: as the `digits` command starts, the folder it is started in is not on its path.
        args = [sys.executable, "-P", "-m", "digits", "serve", "--port", str(self.port)]
        if workers is not None:
            args.append("--workers" if workers else "--no-workers")
        env = digits_env(jobs_dir, broker_url, env)
        super().__init__(args, env, jobs_dir.parent / "serve.log", cwd)
        self.jobs_dir = jobs_dir
        wait_until(self._answers)
        if workers or (workers is None and broker_url is None):
            # Its own workers (cpu, gpu, infer) have said they are ready.
            wait_until(lambda: len(heartbeat_files(jobs_dir)) >= 3 or not self.alive())
        assert self.alive(), self.output()

    def _answers(self) -> bool:
        if not self.alive():
            raise RuntimeError(f"digits serve exited:\n{self.output()}")
        try:
            # 401: it answers, with accounts on (nothing is readable before logging in).
            return requests.get(self.url + "/index.json", timeout=5).status_code in (200, 401)
        except requests.RequestException:
            return False


class RedisServer(Process):
    def __init__(self, tmp_dir: Path, port: int | None = None):
        binary = shutil.which("redis-server")
        if binary is None:
            skip_or_fail("redis-server is not installed")
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_dir),
        ]
        super().__init__(args, dict(os.environ), tmp_dir / "redis.log")
        wait_until(self._answers, timeout=10)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def processes_named(*words: bytes) -> list[int]:
    """Live processes whose command line has each of `words` as an argument (a job's
    processes carry its id: what an operator finds with `ps`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parts = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(word in parts for word in words):
            found.append(int(entry.name))
    return found
