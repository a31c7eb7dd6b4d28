"""Gang leases: one job's GPUs on several hosts, all of them at once or none.

A job that asks for more GPUs than any one host has trains across hosts. The worker that takes
it (the leader, whose host must give some of them) leases every GPU of the gang itself: it takes
the host lock of each host involved, in one order (by name) so that two gangs never wait on each
other, locks what is free there, and keeps the locks only if the whole gang fits. The leader's
training child inherits every lock, so the gang's GPUs are free again the moment it ends, however
it ends; the other hosts' ranks (started by their own workers) stop when it does.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digits.files import write_json_atomically
from digits.hardware.leases import GpuPool, GpuRequest, Lease, Waiting, holder_name, serve_ahead


@dataclass(frozen=True)
class Share:
    """A host's part of a gang: its GPUs, and its place among the gang's hosts."""

    host: str
    gpus: tuple[int, ...]


class GangLease(Lease):
    """The GPUs of every host of a gang, held by the leader (see Lease). `gpus` are the leader's
    host's; `shares` every host's, the leader's first."""

    def __init__(self, shares: list[Share], leases: list[Lease]):
        files = {}
        for number, lease in enumerate(leases):  # one key per file across hosts
            files |= {(number, index): fd for index, fd in lease._files.items()}
        super().__init__(shares[0].gpus, files, Path())
        self.shares = shares
        self._leases = leases

    def release(self) -> None:
        for lease in self._leases:
            lease.release()
        self._files = {}


def place(leader: str, free: dict[str, list[int]], size: int) -> list[Share] | None:
    """The fewest hosts that give `size` free GPUs, the leader's host first (it must give some):
    then the hosts with the most free GPUs (by name where equal). None: they do not fit now."""
    if not free.get(leader):
        return None
    others = sorted((h for h in free if h != leader and free[h]), key=lambda h: (-len(free[h]), h))
    shares, needed = [], size
    for host in [leader, *others]:
        take = tuple(sorted(free[host])[:needed])
        shares.append(Share(host, take))
        needed -= len(take)
        if needed == 0:
            return shares
    return None


def try_gang_lease(
    jobs_dir: Path,
    leader: str,
    offered: dict[str, Sequence[int]],
    request: GpuRequest,
    holder: dict[str, Any],
    ahead: Sequence[tuple[str, GpuRequest]] = (),
) -> GangLease | Waiting:
    """Lease `request.count` GPUs over the hosts that offer them (`offered`: host -> GPU
    indexes, from the live workers), or say why not. Requests that waited longer (`ahead`) are
    served first on each host, as a single host's lease does."""
    total = sum(len(gpus) for gpus in offered.values())
    if total < request.size:
        return Waiting(
            f"waiting for workers with {request.size} GPUs together (the live ones have {total})"
        )
    named: dict[str, list[int]] = {}
    for host, index in request.hosts:  # GPUs chosen by host: only those hosts, those GPUs
        named.setdefault(host, []).append(index)
    if named:
        missing = [f"{h}:{i}" for h, i in request.hosts if i not in offered.get(h, ())]
        if missing:
            return Waiting(f"waiting for workers offering GPU {', '.join(missing)}")
        offered = {host: offered[host] for host in named}
    if not offered.get(leader):
        return Waiting("waiting for a worker on a host that gives GPUs to the gang", elsewhere=True)
    pools = {host: GpuPool(jobs_dir, gpus, host=host) for host, gpus in sorted(offered.items())}
    with ExitStack() as stack:
        for pool in pools.values():  # always in this order: two gangs never wait on each other
            stack.enter_context(pool.host_lock())
        locked = {host: pool.lock_free_gpus() for host, pool in pools.items()}
        free = {}
        for host, pool in pools.items():
            earlier = [(name, r) for name, r in ahead if not pool.never_met(r)]
            free[host] = serve_ahead(sorted(locked[host]), earlier)[0]
        shares = _named(leader, named, free) if named else place(leader, free, request.size)
        if shares is None:
            _close(locked)
            have = ", ".join(f"{len(free[h])} on {h}" for h in pools) or "none"
            return Waiting(f"waiting for {request.size} free GPUs across hosts (free: {have})")
        leases = []
        for share in shares:
            pool = pools[share.host]
            files = {index: locked[share.host].pop(index) for index in share.gpus}
            for index in share.gpus:
                write_json_atomically(pool.folder / holder_name(index), holder)
            leases.append(Lease(share.gpus, files, pool.folder))
        _close(locked)  # what the gang does not take
        return GangLease(shares, leases)


def _named(leader: str, named: dict[str, list[int]], free: dict[str, list[int]]):
    """The gang of the GPUs chosen by host, the leader's first, if every one is free."""
    if any(index not in free[host] for host, indexes in named.items() for index in indexes):
        return None
    hosts = [leader, *sorted(h for h in named if h != leader)]
    return [Share(host, tuple(sorted(named[host]))) for host in hosts]


def _close(locked: dict[str, dict[int, int]]) -> None:
    for files in locked.values():
        for fd in files.values():
            os.close(fd)
        files.clear()
