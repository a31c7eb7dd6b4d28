"""What a job's processes use: CPU and memory of a process tree, read from /proc (Linux).

The tree, not the process group: torchrun starts each rank in a session of its own.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _read_stat(pid: int) -> tuple[int, int, int] | None:
    """(parent pid, CPU ticks used, resident pages) of a process, None if it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (in parentheses) may hold spaces: the fields start after its end.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21])


def _tree(root: int) -> dict[int, tuple[int, int]]:
    """Every live process under `root` (itself included): pid -> (CPU ticks, resident pages)."""
    stats = {}
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if entry.name.isdigit() and (stat := _read_stat(int(entry.name))) is not None:
            stats[int(entry.name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in found:
            found[pid] = stats[pid][1:]
            todo.extend(children.get(pid, ()))
    return found


class TreeUsage:
    """Samples one process tree; each sample's CPU share covers the time since the last."""

    def __init__(self, root: int):
        self.root = root
        self._ticks = {pid: ticks for pid, (ticks, _) in _tree(root).items()}
        self._time = time.monotonic()

    def sample(self) -> dict[str, float | int]:
        tree = _tree(self.root)
        now = time.monotonic()
        # Per process, so a rank that ends between samples takes its ticks with it.
        used = sum(ticks - self._ticks.get(pid, 0) for pid, (ticks, _) in tree.items())
        elapsed = max(now - self._time, 1e-3)
        self._ticks = {pid: ticks for pid, (ticks, _) in tree.items()}
        self._time = now
        return {
            "cpu_percent": round(100.0 * max(used, 0) / TICKS_PER_SECOND / elapsed, 1),
            "memory": sum(pages for _, pages in tree.values()) * PAGE_SIZE,
            "processes": len(tree),
            "cpu_count": os.cpu_count() or 1,
        }
