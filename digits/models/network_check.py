"""Trying a network before any training: Visualize, and the fit check when a model is submitted.

A worker of queue `infer` answers these requests (the web server runs no network code). A
standard network is our own code and runs in the worker, on images up to IN_WORKER_PIXELS.
Custom code is the user's: it runs in a sandboxed child process (digits.sandbox) with a
wall-clock and a memory limit (`python -m digits.models.network_check`, the request on
standard input, the answer on standard output), so an endless loop or a huge allocation costs
a few seconds of one child, never the worker; so does a standard network on larger images.

The answer: `{"summary": {...}}` (input, layers, graph, parameters) or `{"error", "line"}`.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from digits import sandbox
from digits.config import Settings
from digits.jobs.guard import guarded
from digits.jobs.page_requests import RequestContext

CHECK_NETWORK_REQUEST = "check_network"
# Our own networks are tried in the worker up to this image size; beyond it (ResNet-50 at
# 1024x1024 takes gigabytes and half a minute) in a child with the checks' limits too.
IN_WORKER_PIXELS = 512 * 512


def check_network(ctx: RequestContext) -> dict[str, Any]:
    """The request handler: {"method", "network" or "custom_network", "num_classes",
    "channels", "height", "width", "summary": bool}."""
    payload = ctx.payload
    pixels = int(payload.get("height", 0)) * int(payload.get("width", 0))
    if payload.get("method") == "custom" or pixels > IN_WORKER_PIXELS:
        return run_limited(payload, ctx.settings)
    return try_network(payload)


def try_network(request: dict[str, Any]) -> dict[str, Any]:
    """Build the network for the request's shape, run it once, and describe it."""
    # torch: imported here, on the worker (the web server imports this module's names).
    from digits.models import networks
    from digits.models.factory import NetworkError, checked_network, custom_factory
    from digits.models.graph import layer_graph, summarize

    shape = [int(request[k]) for k in ("channels", "height", "width")]
    try:
        if request.get("method") == "custom":
            factory = custom_factory(request["custom_network"])
        else:
            factory = lambda *args: networks.create(request["network"], *args)  # noqa: E731
        model = checked_network(factory, int(request["num_classes"]), *shape)
        if request.get("weights_file"):  # an imported model: its weights must fit exactly
            problem = _load_strictly(model, request["weights_file"])
            if problem:
                return {"error": problem, "line": None}
        if not request.get("summary"):
            return {"summary": None}
        return {
            "summary": {
                "input": shape,
                "layers": [vars(layer) for layer in summarize(model, *shape)],
                "graph": layer_graph(model, *shape),
                "total_parameters": sum(p.numel() for p in model.parameters()),
            }
        }
    except NetworkError as exc:
        return {"error": str(exc), "line": exc.line}
    except Exception as exc:  # the network ran once, but not again under the hooks
        return {"error": f"{type(exc).__name__}: {exc}", "line": None}


def _load_strictly(model, path: str) -> str | None:
    """Load the weights file into the network, every key and shape as they are; what does not
    fit, or None."""
    from digits.models.weights import load_weights, weight_mismatches

    try:
        weights = load_weights(Path(path))
    except Exception as exc:  # any file at all may arrive here
        return f"the weights cannot be read: {type(exc).__name__}: {exc}"
    problem = weight_mismatches(model, weights)
    if problem is None:
        model.load_state_dict(weights, strict=True)
    return problem


def run_limited(request: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """`try_network` in a sandboxed child process of its own (digits.sandbox: it sees nothing
    but Python and the weights file it checks), within the checks' time and memory."""
    seconds, memory_mb = settings.network_check_seconds, settings.network_check_memory_mb
    # A check never touches a GPU a training holds.
    env = settings.child_environment() | {"CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-I", "-m", __name__, str(memory_mb)]
    weights = request.get("weights_file")
    confinement = sandbox.Confinement(read_only=(Path(weights),) if weights else ())
    try:
        command, env = sandbox.confine(command, env, confinement, settings)
    except sandbox.NoSandbox as exc:
        return {"error": str(exc), "line": None}
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL}
    child = subprocess.Popen(guarded(command), env=env, start_new_session=True, **pipes)
    try:
        output, _ = child.communicate(json.dumps(request).encode(), timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return {
            "error": f"the network code ran longer than {seconds:g} s (the limit for "
            "trying a network)",
            "line": None,
        }
    try:
        return json.loads(output)
    except ValueError:
        return {"error": _death(child.returncode, memory_mb), "line": None}


def _death(code: int, memory_mb: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        return (
            f"the network code stopped the process that tried it ({name}); it may need "
            f"more than the {memory_mb} MB allowed"
        )
    return f"the network code ended the process that tried it (exit code {code})"


def limited_child(memory_mb: int):
    """In a child that runs a user's code: cap its memory, and keep its standard output for
    answers alone (what the code prints goes to standard error). The answers' stream."""
    limit = memory_mb * 1024**2
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return answers


def main() -> None:
    """The child: limit memory first, then read the request, try it, print the answer."""
    answers = limited_child(int(sys.argv[1]))
    request = json.loads(sys.stdin.read())
    try:
        answer = try_network(request)
    except MemoryError:
        answer = {
            "error": f"the network needs more than the {sys.argv[1]} MB allowed",
            "line": None,
        }
    answers.write(json.dumps(answer))
    answers.close()


if __name__ == "__main__":
    main()
