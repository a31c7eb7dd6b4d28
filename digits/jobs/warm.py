"""Warm children: a job's child forked from a worker process that imported its module ahead.

A fresh `python -m digits.models.classify_many` spends about 3 s importing torch before it looks
at its first image; for a Classify Many of a few thousand images that is most of the job. So a
worker process imports such modules once, in the background as soon as it starts (at the lowest
priority, so that it takes no CPU a running job wants), and each job of that kind runs in a fork
of it: a child like any other (a session of its own, its output in the job's log, ended when the
worker dies, its exit code read the same way), started in milliseconds.

Forking is safe here because the worker process itself never runs a network: torch is imported,
never used (no thread pools, no CUDA context), and the warm-up thread has finished before a fork.
"""

from __future__ import annotations

import ctypes
import importlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass

PR_SET_PDEATHSIG = 1
LOWEST_PRIORITY = 19
# The signals a Celery pool process handles itself: its fork runs a job, not a pool process.
INHERITED_HANDLERS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGCHLD,
)


@dataclass(frozen=True)
class WarmModule:
    """`function(ctx)` of `module`, run in a fork of a worker process that imported `module`."""

    module: str
    function: str

    def entry(self) -> Callable:
        return getattr(importlib.import_module(self.module), self.function)


_warming: threading.Thread | None = None


def warm_up(modules: Iterable[str]) -> None:
    """Start importing `modules` in the background of this (worker) process."""
    global _warming
    names = list(modules)
    if not names:
        return

    def run() -> None:
        try:  # on Linux a thread has a priority of its own
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)
        except (AttributeError, OSError):
            pass
        for name in names:
            importlib.import_module(name)

    _warming = threading.Thread(target=run, name="warm-up", daemon=True)
    _warming.start()


def _warmed() -> None:
    """Wait for the warm-up: a fork while another thread holds the import lock would hang."""
    if _warming is not None:
        _warming.join()


class ForkedChild:
    """What subprocess.Popen gives for a command, for a forked child: pid, wait, returncode."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.001
        while self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(delay)
            delay = min(2 * delay, 0.05)
        return self.returncode


def fork_child(
    warm: WarmModule,
    job_id: str,
    env: dict[str, str],
    output: int,
    keep_fds: Iterable[int],
    main: Callable[[Callable], None],
) -> ForkedChild:
    """Run `main(warm's function)` for `job_id` in a fork of this process, with `env` as its
    environment, stdout and stderr into `output`, and only `keep_fds` (GPU leases) besides."""
    _warmed()
    entry = warm.entry()  # imported here, where a failure is the worker's to report
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return ForkedChild(pid)
    code = 1
    try:
        _become_child(parent, env, output, keep_fds)
        sys.argv = [warm.module, job_id]
        main(entry)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _become_child(parent: int, env: dict[str, str], output: int, keep_fds: Iterable[int]) -> None:
    """What `guarded(command)` in a session of its own with these fds would have been."""
    os.setsid()
    for signum in INHERITED_HANDLERS:
        signal.signal(signum, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(1)  # the worker died between the fork and the request
    os.dup2(output, 1)
    os.dup2(output, 2)
    _close_fds_but(keep_fds)
    # Celery redirects a pool process's output into its logger; the child writes its own.
    sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), line_buffering=True)
    sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), line_buffering=True)
    os.environ.clear()
    os.environ.update(env)


def _close_fds_but(keep: Iterable[int]) -> None:
    start = 3
    for fd in sorted(set(keep)):
        if fd >= start:
            os.closerange(start, fd)
            start = fd + 1
    os.closerange(start, os.sysconf("SC_OPEN_MAX"))
