"""Code a user supplied, run where it sees only what its job needs: bubblewrap.

A custom network, an imported model's code, or a network fine-tuned from one runs in a
bubblewrap sandbox (`bwrap`, the sandbox Flatpak uses). It sees, read-only, the system's
libraries, the Python environment and our package, and the inputs its job names (its dataset,
the models it starts from); it writes only its job's folder (or not even that) and a private
`/tmp`. It has no capabilities, its own process and IPC namespaces (no other process is
visible), and no network (a loopback of its own, where DDP's ranks meet) unless it is one
host's part of a training across hosts (which shares the host's network and process numbers,
but no more of its files). The jobs folder's root (the secret key, the accounts,
the broker, the requests of other users) and every other job are simply not there.

`python -m digits.sandbox` says whether this machine can sandbox, and how it was checked.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Environment of a sandboxed process: it knows it is one (it reports through its job's files,
# which its parent relays, never through the broker, which it cannot reach).
SANDBOXED_VARIABLE = "DIGITS_SANDBOXED"

# What a program needs of /etc to start and to name its user; nothing else there.
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/alternatives",
)
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxUnavailable(RuntimeError):
    """This machine cannot sandbox: why, and what to do."""


class UnsafeMount(ValueError):
    """A path to give a sandbox that is, or lies under, a link."""


class NoSandbox(RuntimeError):
    """User code that this host cannot sandbox, on a server where it may not run without."""


@dataclass(frozen=True)
class Confinement:
    """What one sandboxed process may reach besides the system and Python."""

    read_only: tuple[Path, ...] = ()
    writable: tuple[Path, ...] = ()
    # One host's ranks of a training across hosts: they reach the others (and the host's
    # process numbers are theirs too).
    network: bool = False
    gpus: bool = False  # the GPU device files (CUDA_VISIBLE_DEVICES still says which)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def unavailable_reason() -> str | None:
    """None when sandboxes work here; else why not (checked once per process, by running one)."""
    bwrap = bwrap_path()
    if bwrap is None:
        return "bubblewrap is not installed (Debian and Ubuntu: apt-get install bubblewrap)"
    command = wrap([sys.executable, "-I", "-c", "import digits"], Confinement(), bwrap=bwrap)
    try:
        done = subprocess.run(command, capture_output=True, timeout=60, env=_minimal_env())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap did not start: {exc}"
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        return f"bubblewrap cannot make a sandbox here: {said[-1] if said else done.returncode}"
    return None


def available() -> bool:
    return unavailable_reason() is None


def confine(
    command: list[str],
    env: dict[str, str],
    confinement: Confinement,
    settings,
    user_code: bool = True,
) -> tuple[list[str], dict[str, str]]:
    """The command and its environment in a sandbox of `confinement`. On a host that cannot
    sandbox: as they are for our own code, and for a user's code where nobody shares the
    server (no accounts) or an admin allowed it; NoSandbox otherwise."""
    if available():
        return wrap(command, confinement), sandboxed_environment(env)
    if user_code and not unsandboxed_code_allowed(settings):
        raise NoSandbox(
            f"this host cannot run user code in a sandbox ({unavailable_reason()}), and this "
            "server has accounts: an admin must install bubblewrap, or allow such code "
            "without one (DIGITS_ALLOW_UNSANDBOXED_CODE=1)"
        )
    return command, env


def unsandboxed_code_allowed(settings) -> bool:
    """A user's code may run without a sandbox on a server nobody shares (no accounts), or
    where an admin said so."""
    from digits.accounts import Accounts

    return settings.allow_unsandboxed_code or not Accounts(settings.jobs_dir).enabled


def wrap(command: list[str], confinement: Confinement, bwrap: str | None = None) -> list[str]:
    """`command`, to be run inside a sandbox of `confinement` (SandboxUnavailable without one)."""
    bwrap = bwrap or bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable(unavailable_reason() or "bubblewrap is not installed")
    args = [
        bwrap,
        "--unshare-user-try",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        # One host's part of a training across hosts shares the host's network and process
        # numbers: its ranks reach the others', and torchrun tells hosts apart by name and pid.
        *([] if confinement.network else ["--unshare-net", "--unshare-pid"]),
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/dev/shm",  # DataLoader workers hand batches over in shared memory
    ]
    for path in SYSTEM_FOLDERS:
        args += _mount(path, "--ro-bind")
    for path in ETC_FILES:
        args += _mount(path, "--ro-bind")
    for path in python_folders():
        args += ["--ro-bind", path, path]
    if confinement.gpus:
        args += ["--ro-bind-try", "/sys", "/sys"]
        for device in sorted(Path("/dev").glob("nvidia*")):
            args += ["--dev-bind", str(device), str(device)]
    for path in confinement.read_only:  # an input gone since is the job's own error to find
        args += ["--ro-bind-try", _real(path), str(path)]
    for path in confinement.writable:
        args += ["--bind", _real(path), str(path)]
    return [*args, "--chdir", "/tmp", "--", *command]


def _real(path: Path) -> str:
    """The path itself, never what a link there points to: a job's code may have replaced a
    folder of its own (`exports`) with a link to the jobs folder's root."""
    text = os.path.abspath(path)
    if os.path.realpath(text) != text and os.path.lexists(text):
        raise UnsafeMount(f"{text} is, or lies under, a link: not given to a sandbox")
    return text


def _mount(path: str, how: str) -> list[str]:
    """A system path as it is here: a link stays a link (merged /usr), a folder is bound."""
    if os.path.islink(path):
        return ["--symlink", os.readlink(path), path]
    if os.path.exists(path):
        return [how, path, path]
    return []


@functools.cache
def python_folders() -> tuple[str, ...]:
    """The interpreter, the installed packages and our own package, as folders to bind."""
    import digits
    from digits.config import load_settings

    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(digits.__file__).parent)}
    folders |= plugin_folders(load_settings().plugins)
    folders.add(str(Path(os.path.realpath(sys.executable)).parent.parent))
    for entry in sys.path:
        if entry and os.path.isdir(entry) and "site-packages" in entry:
            folders.add(entry)
    real = sorted({os.path.realpath(f) for f in folders if os.path.exists(f)})
    # A folder inside another is bound with it.
    return tuple(f for f in real if not any(f != o and f.startswith(o + os.sep) for o in real))


def plugin_folders(plugins: tuple[str, ...]) -> set[str]:
    """The packages of the configured plugins (code the server's admin installed, as ours): a
    task a plugin adds trains and answers in sandboxes too."""
    folders = set()
    for name in plugins:
        spec = importlib.util.find_spec(name.split(".")[0])
        if spec is not None and spec.submodule_search_locations:
            folders.update(spec.submodule_search_locations)
        elif spec is not None and spec.origin and spec.origin.endswith(".py"):
            folders.add(spec.origin)  # a module of one file: that file, not its folder
    return folders


def _minimal_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), SANDBOXED_VARIABLE: "1"}


def sandboxed_environment(env: dict[str, str]) -> dict[str, str]:
    """A sandboxed child's environment: the given one, marked, with a private home."""
    return env | {SANDBOXED_VARIABLE: "1", "HOME": "/tmp", "TMPDIR": "/tmp"}


def in_sandbox() -> bool:
    return os.environ.get(SANDBOXED_VARIABLE) == "1"


def main() -> None:
    reason = unavailable_reason()
    if reason:
        print(f"no sandbox: {reason}")
        sys.exit(1)
    print(f"sandbox: bubblewrap ({bwrap_path()}), checked by starting Python inside one")


if __name__ == "__main__":
    main()
