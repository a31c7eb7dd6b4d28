"""`python -m digits.jobs.guard PARENT_PID COMMAND...`: run COMMAND, bound to its parent's life.

A job's child runs in a session of its own (so that Abort can signal the whole group), and so do
the workers that `digits serve` and `digits worker` start (so that a Ctrl-C reaches the parent
first). Either would outlive a parent killed with SIGKILL: a training with nobody to watch it and
its GPUs still held, workers with nobody to stop them. Here the kernel is asked to send SIGTERM
when the parent dies, then this process becomes COMMAND: the request survives exec.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
ANY_PARENT = "-"  # in place of the parent's pid: the guard of a process inside a sandbox


def guarded(command: list[str]) -> list[str]:
    """COMMAND, to be started by this process, as a child that ends when this process dies."""
    return [sys.executable, "-P", "-m", "digits.jobs.guard", str(os.getpid()), *command]


def guarded_in_sandbox(command: list[str]) -> list[str]:
    """COMMAND, to be started inside a sandbox: it gets SIGTERM when the sandbox's own process
    ends (bubblewrap's --die-with-parent would SIGKILL it, and torchrun killed outright leaves
    its ranks running where the sandbox shares the host's processes)."""
    return [sys.executable, "-P", "-m", "digits.jobs.guard", ANY_PARENT, *command]


def main() -> None:
    parent, command = sys.argv[1], sys.argv[2:]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if parent != ANY_PARENT and os.getppid() != int(parent):
        sys.exit(f"the process ({parent}) that started this one has gone")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
