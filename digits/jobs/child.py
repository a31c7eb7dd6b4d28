"""Jobs that run in a child process group, started and watched by the worker's task.

A Celery prefork worker's processes are daemonic and cannot start process pools or DDP ranks;
a child process can. And whatever the child does (runs out of memory, segfaults), the worker
survives and records how the job ended.

The child (`python -m <module> <job id>`) reports progress and log lines itself, through the
same events as any job; the parent relays Abort (SIGTERM to the group, then SIGKILL) and turns
the exit code into the job's end.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable

from digits import sandbox
from digits.config import load_settings
from digits.files import open_append, read_last_bytes, read_regular
from digits.hardware.monitor import JobMonitor
from digits.jobs.context import JobAborted, JobContext, JobError, JobLost, worker_events
from digits.jobs.events import events_size, follow_events
from digits.jobs.guard import guarded, guarded_in_sandbox
from digits.jobs.warm import ForkedChild, WarmModule, fork_child

log = logging.getLogger(__name__)

ABORTED_EXIT = 3
ERROR_FILE = ".error"  # the child's one-line reason for failing, read by the parent
MAX_REASON = 4096  # characters of that reason kept (a sandboxed child writes what it likes)
OUTPUT_FILE = "process.log"  # the child's own stdout and stderr
ABORT_GRACE = 10.0  # seconds a child gets to stop cleanly before it is killed
POLL_INTERVAL = 0.2
USAGE_INTERVAL = 1.0  # seconds between samples of what the child uses, for the stats panels


Launch = Callable[[JobContext], tuple[list[str], dict[str, str]]]
# What a job's child may reach in its sandbox, and whether it runs code a user supplied.
Confine = Callable[[JobContext], tuple[sandbox.Confinement, bool]]


def python_module(module: str) -> Launch:
    """Launch `python -m module <job id>`: neither the folder it starts in nor a user's
    site-packages is looked at; the server's PYTHONPATH is (a plugin's task may be there)."""
    return lambda ctx: ([sys.executable, "-P", "-s", "-m", module, ctx.job.id], {})


class ChildRun:
    """A job type's `run` that starts a child process group and waits for it (run_in_child)."""

    def __init__(
        self,
        launch: Launch | WarmModule,
        stop_grace: float,
        record_usage: bool,
        confine: Confine | None = None,
    ):
        self.launch = launch
        self.stop_grace = stop_grace
        self.record_usage = record_usage
        self.confine = confine

    @property
    def preload(self) -> str | None:
        """The module a worker of this job type's queue imports ahead, if it forks its child."""
        return self.launch.module if isinstance(self.launch, WarmModule) else None

    def __call__(self, ctx: JobContext) -> None:
        (ctx.folder / ERROR_FILE).unlink(missing_ok=True)
        with open_append(ctx.folder / OUTPUT_FILE) as output:
            relay = EventRelay(ctx)
            child, relay.active = self._start(ctx, output)
            # One host's figures per job: a gang's other hosts do not mix theirs in.
            leads = ctx.gang is None or ctx.gang.leads
            monitor = JobMonitor(child.pid, ctx.gpus) if self.record_usage and leads else None
            code = _watch(child, ctx, self.stop_grace, monitor, relay)
            relay()
        if code == ABORTED_EXIT or ctx.abort_requested():
            raise JobAborted()  # an abort request wins, whatever way the child stopped
        if code != 0 and (ctx.folder / ERROR_FILE).exists():
            raise JobError(_failure_reason(ctx, code))
        if code != 0:  # died without a word: killed, out of memory, a crash in native code
            raise JobLost(_failure_reason(ctx, code))

    def _start(self, ctx: JobContext, output) -> tuple[subprocess.Popen | ForkedChild, bool]:
        """The child, and whether it is sandboxed (its events are then relayed from its file)."""
        # NVML numbers GPUs in PCI bus order; so must CUDA, or a job's GPU 0 is another card.
        env = {**ctx.settings.child_environment(), "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
        fds = ctx.lease.fds if ctx.lease else ()
        confinement, user_code = self.confine(ctx) if self.confine else (None, False)
        launch = self.launch
        if isinstance(launch, WarmModule):
            if not user_code:  # our own code: a fork of this warm process
                child = fork_child(launch, ctx.job.id, env, output.fileno(), fds, child_main)
                return child, False
            launch = python_module(launch.module)
        command, extra_env = launch(ctx)
        env = {**env, **extra_env}
        if confinement is not None:
            command, env = confined(ctx, command, env, confinement, user_code)
        sandboxed = env.get(sandbox.SANDBOXED_VARIABLE) == "1"
        child = subprocess.Popen(
            guarded(command),
            env=env,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            pass_fds=fds,
        )
        return child, sandboxed


def confined(
    ctx: JobContext,
    command: list[str],
    env: dict[str, str],
    confinement: sandbox.Confinement,
    user_code: bool,
) -> tuple[list[str], dict[str, str]]:
    """The command in its sandbox (see sandbox.confine); JobError where it may not run."""
    inside = guarded_in_sandbox(command) if sandbox.available() else command
    try:
        return sandbox.confine(inside, env, confinement, ctx.settings, user_code)
    except (sandbox.NoSandbox, sandbox.UnsafeMount) as exc:
        raise JobError(str(exc)) from None


class EventRelay:
    """Sends on the events a child appends to its job's file (a sandboxed child cannot reach
    the broker; one that can sent them itself, and nothing is sent twice)."""

    def __init__(self, ctx: JobContext):
        self.ctx = ctx
        self.offset = events_size(ctx.folder)  # taken before the child starts
        self.active = False

    def __call__(self) -> None:
        if not self.active:
            return
        events, self.offset = follow_events(self.ctx.folder, self.offset)
        for event in events:
            self.ctx.events.relay(self.ctx.job.id, event)


def run_in_child(
    launch: Launch | str | WarmModule,
    stop_grace: float = 0.0,
    record_usage: bool = False,
    confine: Confine | None = None,
) -> ChildRun:
    """A job type's `run` that starts a child process group and waits for it.

    `launch` gives the command (and extra environment) for a job, or names a module to run,
    or is a WarmModule: a fork of the worker process, which imported the module ahead (warm).
    On Abort the child first gets `stop_grace` seconds to see the request and stop itself
    (finish its step, write a snapshot), then SIGTERM, then SIGKILL. The child inherits the
    job's GPU leases, so they last exactly as long as it does, and it is told to stop if this
    worker process dies. With `record_usage`, its CPU, memory and GPU figures are sampled
    every USAGE_INTERVAL for the job's page. With `confine`, the child runs in a sandbox
    (digits.sandbox) that reaches what it says, and its events are relayed from its file.
    """
    if isinstance(launch, str):
        launch = python_module(launch)
    return ChildRun(launch, stop_grace, record_usage, confine)


def _watch(
    child: subprocess.Popen | ForkedChild,
    ctx: JobContext,
    stop_grace: float,
    monitor: JobMonitor | None,
    relay: EventRelay,
) -> int:
    abort_seen = None
    terminated = False
    next_sample = time.monotonic() + USAGE_INTERVAL
    while True:
        try:
            return child.wait(timeout=POLL_INTERVAL)
        except subprocess.TimeoutExpired:
            pass
        relay()
        if monitor and time.monotonic() >= next_sample:
            next_sample += USAGE_INTERVAL
            _record_usage(ctx, monitor)
        if not terminated and ctx.gang_stopped():  # another host's ranks failed: stop at once
            _signal_group(child, signal.SIGTERM)
            terminated, abort_seen = True, time.monotonic() - stop_grace
        if abort_seen is None and ctx.abort_requested():
            abort_seen = time.monotonic()
        if abort_seen is None:
            continue
        waited = time.monotonic() - abort_seen
        if not terminated and waited >= stop_grace:
            _signal_group(child, signal.SIGTERM)
            terminated = True
        elif waited > stop_grace + ABORT_GRACE:
            _signal_group(child, signal.SIGKILL)


def _record_usage(ctx: JobContext, monitor: JobMonitor) -> None:
    try:
        ctx.events.record_usage(ctx.job.id, monitor.sample())
    except Exception:  # figures for a panel: never a reason to disturb the job
        log.exception("could not sample the usage of job %s", ctx.job.id)


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass


def _failure_reason(ctx: JobContext, code: int) -> str:
    error_file = ctx.folder / ERROR_FILE
    try:
        return read_regular(error_file).decode(errors="replace").strip()[:MAX_REASON]
    except FileNotFoundError:
        pass
    # The file keeps every run's output (a resumed job has several): its end is this run's.
    output = read_last_bytes(ctx.folder / OUTPUT_FILE, 64 * 1024).decode(errors="replace")
    tail = output.strip().splitlines()[-20:]
    for line in tail:
        ctx.log(line)
    # torchrun reports a rank that died of a signal as "exitcode : -9", then exits with 1.
    rank = re.search(r"exitcode\s*:\s*-(\d+)", "\n".join(tail))
    if code < 0 or rank:
        number = -code if code < 0 else int(rank.group(1))
        name = signal.Signals(number).name
        hint = " (out of memory?)" if number == signal.SIGKILL else ""
        who = "the job's process" if code < 0 else "a training process"
        return f"{who} was killed by {name}{hint}"
    return f"the job's process exited with code {code}"


def child_main(run: Callable[[JobContext], None]) -> None:
    """Entry point of a child: run the job, report failures, exit with a code the parent reads."""
    job_id = sys.argv[1]
    settings = load_settings()
    events = worker_events(settings)
    ctx = JobContext(events.store.get(job_id), settings, events)
    # Abort arrives as SIGTERM to the group; the job also checks the abort file itself.
    signal.signal(signal.SIGTERM, lambda *_: _raise_aborted())
    try:
        run(ctx)
    except JobAborted:
        sys.exit(ABORTED_EXIT)
    except Exception as exc:
        for line in traceback.format_exc().rstrip().splitlines():
            ctx.log(line)
        reason = str(exc) if isinstance(exc, JobError) else f"{type(exc).__name__}: {exc}"
        (ctx.folder / ERROR_FILE).write_text(reason)
        sys.exit(1)


def _raise_aborted() -> None:
    raise JobAborted()
