"""GPU leases: each GPU of a host belongs to one job at a time.

A lease is an exclusive `flock` on `<jobs>/.gpus/<host>/gpu<N>.lock`. The lock belongs to the
open file, which the job's process group inherits, so the kernel releases it when the last process
holding it ends, however it ends (SIGKILL included): no flag is left behind by a dead process.
A job takes all its GPUs or none, and the attempts of one host's workers go one at a time
(a host-wide lock), so two jobs can never split or share a GPU.

Beside each lock, `gpu<N>.json` names the holding job for the Hardware page; the lock, not that
file, says whether the GPU is held.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digits.files import locked, write_json_atomically


@dataclass(frozen=True)
class GpuRequest:
    """What a job asks for: these GPU indexes, or else any `count` free GPUs; or these GPUs of
    several hosts (`hosts`: (host, index) pairs), a training across them."""

    indexes: tuple[int, ...] = ()
    count: int = 1
    hosts: tuple[tuple[str, int], ...] = ()

    @property
    def size(self) -> int:
        return len(self.hosts) or len(self.indexes) or self.count

    @property
    def host_count(self) -> int:
        """How many hosts the GPUs chosen by host are on (0: not chosen by host)."""
        return len({host for host, _ in self.hosts})

    def on(self, host: str) -> GpuRequest | None:
        """The request as one host's lease sees it: GPUs chosen on this host alone become
        indexes; None when it names GPUs of other hosts."""
        if not self.hosts:
            return self
        if {h for h, _ in self.hosts} != {host}:
            return None
        return GpuRequest(tuple(sorted(index for _, index in self.hosts)))

    def __str__(self) -> str:
        if self.hosts:
            return "GPUs " + ", ".join(f"{host}:{index}" for host, index in self.hosts)
        if self.indexes:
            noun = "GPU" if len(self.indexes) == 1 else "GPUs"
            return f"{noun} {', '.join(map(str, self.indexes))}"
        return "1 free GPU" if self.count == 1 else f"{self.count} free GPUs"

    def pick(self, free: Sequence[int]) -> tuple[int, ...] | None:
        """The GPUs this request takes from `free` (sorted), or None if it cannot be met."""
        if self.indexes:
            return self.indexes if set(self.indexes) <= set(free) else None
        return tuple(free[: self.count]) if len(free) >= self.count else None


@dataclass(frozen=True)
class Waiting:
    """A request that cannot be met now, and why, in the user's words."""

    reason: str
    # This host can never meet it: another host's worker should take the job.
    elsewhere: bool = False


class Lease:
    """GPUs held by this process (and any child it passes `fds` to) until `release`."""

    def __init__(self, gpus: tuple[int, ...], files: dict[int, int], folder: Path):
        self.gpus = gpus
        self._files = files
        self._folder = folder

    @property
    def fds(self) -> tuple[int, ...]:
        return tuple(self._files.values())

    def release(self) -> None:
        for index, fd in self._files.items():
            (self._folder / holder_name(index)).unlink(missing_ok=True)
            os.close(fd)  # the lock goes with the last open copy of this file
        self._files = {}


def default_host() -> str:
    return socket.gethostname()


class GpuPool:
    """The GPUs one host offers to jobs, leased through lock files in the jobs folder."""

    def __init__(self, jobs_dir: Path, offered: Sequence[int], host: str | None = None):
        self.offered = tuple(sorted(set(offered)))
        self.folder = jobs_dir / ".gpus" / (host or default_host())

    def try_lease(
        self,
        request: GpuRequest,
        holder: dict[str, Any],
        ahead: Sequence[tuple[str, GpuRequest]] = (),
    ) -> Lease | Waiting:
        """Lease the request's GPUs now, or say why not.

        `ahead` holds the requests of jobs that have waited longer (name, request), oldest
        first: those this host could meet are served first from what is free, and GPUs they
        asked for by index are kept for them, so a stream of younger jobs cannot starve them.
        """
        unmet = self.never_met(request)
        if unmet:
            return Waiting(unmet, elsewhere=True)
        request = request.on(self.host)
        ahead = [(name, r.on(self.host)) for name, r in ahead if not self.never_met(r)]
        with self.host_lock():
            free = self.lock_free_gpus()
            kept, promised_to = serve_ahead(list(free), ahead)
            picked = request.pick(kept)
            if picked is None:
                for fd in free.values():
                    os.close(fd)
                return Waiting(self._reason(request, free, promised_to))
            for index, fd in free.items():
                if index not in picked:
                    os.close(fd)
            for index in picked:
                write_json_atomically(self.folder / holder_name(index), holder)
            return Lease(picked, {i: free[i] for i in picked}, self.folder)

    @property
    def host(self) -> str:
        return self.folder.name

    def never_met(self, request: GpuRequest) -> str | None:
        """Why this host can never meet a request (another host may), or None."""
        if request.host_count > 1:
            return f"waiting for the hosts of {request} together"
        if request.hosts and request.on(self.host) is None:
            return f"waiting for a worker on host {request.hosts[0][0]}"
        request = request.on(self.host)
        missing = [i for i in request.indexes if i not in self.offered]
        if missing:
            return f"waiting for a worker with GPU {', '.join(map(str, missing))}"
        if request.size > len(self.offered):
            plural = "s" if request.size > 1 else ""
            return f"waiting for a worker with {request.size} GPU{plural}"
        return None

    def holders(self) -> dict[int, dict[str, Any] | None]:
        """Each offered GPU's holder (what the job wrote), or None where it is free."""
        with self.host_lock():
            free = self.lock_free_gpus()
            for fd in free.values():
                os.close(fd)
            return {i: None if i in free else self._read_holder(i) for i in self.offered}

    def _reason(self, request: GpuRequest, free: dict, promised_to: dict[int, str]) -> str:
        def why(index: int) -> str:
            if index in promised_to:
                return f"GPU {index} promised to {promised_to[index]}, which waited longer"
            return f"GPU {index} held by {_holder_label(self._read_holder(index))}"

        if request.indexes:
            busy = [i for i in request.indexes if i not in free or i in promised_to]
            return "waiting for " + "; ".join(why(i) for i in busy)
        busy = [i for i in self.offered if i not in free or i in promised_to]
        return f"waiting for {request}: " + "; ".join(why(i) for i in busy)

    @contextmanager
    def host_lock(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with locked(self.folder / "host.lock"):
            yield

    def lock_free_gpus(self) -> dict[int, int]:
        """Lock every free GPU (non-blocking); the open, locked file of each. Under host_lock."""
        free = {}
        for index in self.offered:
            fd = os.open(self.folder / f"gpu{index}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
            else:
                free[index] = fd
        return free

    def _read_holder(self, index: int) -> dict[str, Any]:
        try:
            return json.loads((self.folder / holder_name(index)).read_text())
        except (OSError, ValueError):
            return {}


def serve_ahead(
    free: list[int], ahead: Sequence[tuple[str, GpuRequest]]
) -> tuple[list[int], dict[int, str]]:
    """What is left of `free` once earlier requests are served, and who each taken GPU is for."""
    promised_to: dict[int, str] = {}
    for name, request in ahead:
        picked = request.pick(free)
        # Unmet requests by index still keep their GPUs; "any N" ones let others go first.
        taken = picked if picked is not None else request.indexes
        for index in taken:
            if index in free:
                free.remove(index)
                promised_to[index] = name
    return free, promised_to


def holder_name(index: int) -> str:
    return f"gpu{index}.json"


def _holder_label(holder: dict[str, Any]) -> str:
    if holder.get("job_id"):
        return f"{holder.get('name') or 'job'} ({holder['job_id']})"
    return "another process"
