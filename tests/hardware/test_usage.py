"""A job's processes' CPU and memory, read from /proc for the whole tree under the job."""

import os
import signal
import subprocess
import sys
import time

from digits.hardware.usage import TreeUsage

# A parent that starts a busy child in a session of its own, as torchrun starts its ranks.
SPIN = "import time\nend = time.time() + 30\nwhile time.time() < end: pass"
PARENT = (
    "import subprocess, sys, time\n"
    f"child = subprocess.Popen([sys.executable, '-c', {SPIN!r}], start_new_session=True)\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(30)"
)


def test_a_busy_grandchild_in_its_own_session_is_counted():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        usage = TreeUsage(parent.pid)
        time.sleep(1.0)
        sample = usage.sample()
        assert sample["processes"] == 2
        assert sample["cpu_percent"] > 50  # the child spins a core
        assert sample["memory"] > 5 * 2**20
    finally:
        os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()


def test_an_ended_tree_uses_nothing():
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert TreeUsage(done.pid).sample() | {"cpu_count": 0} == {
        "cpu_percent": 0.0,
        "memory": 0,
        "processes": 0,
        "cpu_count": 0,
    }
