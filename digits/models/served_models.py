"""Models whose network is a user's code, served to the infer worker by sandboxed children.

The infer worker is shared by every user: it keeps only our own networks loaded. A model with
custom or imported code (or fine-tuned from such a model) is loaded in a child of its own, in
a sandbox that reads the model's folders and nothing else (digits.sandbox), kept warm for
IDLE_SECONDS after its last request so that the second Classify One is as fast as the first
is slow, then ended. Each request has a time limit: a model that hangs is killed and the
person told, and the worker goes on serving everyone else.

The child speaks JSON lines: `{"kind", "payload", "files": {name: base64}}` in, `{"result"}`
or `{"error"}` out. What the code prints goes to the worker's log, never into an answer.
"""

from __future__ import annotations

import base64
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from digits import sandbox
from digits.config import Settings, load_settings
from digits.jobs.guard import guarded
from digits.jobs.page_requests import RequestContext, RequestFailed

IDLE_SECONDS = 300.0  # a served model unused this long is ended
MAX_SERVED = 4  # children per worker process; the least recently used goes first
MAX_ANSWER = 64 * 2**20  # bytes of one answer line (images of every layer included)


class ServedModel:
    """One sandboxed child that answers one model's requests, one at a time."""

    def __init__(self, settings: Settings, confinement: sandbox.Confinement):
        env = settings.child_environment() | {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
        # -P -s, not -I: the task of the model may be a plugin's, found on the server's
        # PYTHONPATH (neither the folder it starts in nor a user's site-packages is looked at).
        python = [sys.executable, "-P", "-s", "-m", __name__]
        command = [*python, str(settings.network_check_memory_mb)]
        try:
            command, env = sandbox.confine(command, env, confinement, settings)
        except sandbox.NoSandbox as exc:
            raise RequestFailed(str(exc)) from None
        except sandbox.UnsafeMount as exc:
            raise RequestFailed(f"the model's folder is not as it was made: {exc}") from None
        self.process = subprocess.Popen(
            guarded(command),
            env=env,
            start_new_session=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the worker's own log
        )
        self.last_used = time.monotonic()
        self.lock = threading.Lock()

    def ask(self, kind: str, payload: dict, files: dict[str, bytes], seconds: float) -> dict:
        """The child's answer to one request (RequestFailed if it fails, hangs or dies)."""
        with self.lock:
            self.last_used = time.monotonic()
            message = {
                "kind": kind,
                "payload": payload,
                "files": {name: base64.b64encode(data).decode() for name, data in files.items()},
            }
            try:
                self.process.stdin.write(json.dumps(message).encode() + b"\n")
                self.process.stdin.flush()
                line = self._read_line(seconds)
            except BrokenPipeError:
                line = None
            except RequestFailed:
                self.end()
                raise
            self.last_used = time.monotonic()
        if line is None:
            died = self.process.poll()  # before it is ended here: whether it ended itself
            self.end()
            if died is None:
                raise RequestFailed(
                    f"the model's code took longer than {seconds:g} s to answer (the limit "
                    "for one request): it was stopped"
                )
            raise RequestFailed(f"the model's code ended the process that ran it ({died})")
        answer = json.loads(line)
        if "error" in answer:
            raise RequestFailed(answer["error"])
        return answer["result"]

    def _read_line(self, seconds: float) -> bytes | None:
        """The child's answer; None if it did not come in time or the child died."""
        deadline = time.monotonic() + seconds
        out = self.process.stdout
        chunks = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                return None
            chunk = os.read(out.fileno(), 1 << 20)
            if not chunk:
                return None  # the child died
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                return b"".join(chunks)
            if sum(map(len, chunks)) > MAX_ANSWER:
                raise RequestFailed(f"the model's answer is larger than {MAX_ANSWER >> 20} MB")

    def alive(self) -> bool:
        return self.process.poll() is None

    def end(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


class ServedModels:
    """The children of one worker process, by model: started on demand, ended when idle."""

    def __init__(self):
        self.children: dict[tuple, ServedModel] = {}
        self.lock = threading.Lock()
        self._sweeper: threading.Thread | None = None

    def ask(
        self,
        settings: Settings,
        key: tuple,
        confinement: sandbox.Confinement,
        kind: str,
        payload: dict,
        files: dict[str, bytes] | None = None,
    ) -> dict:
        with self.lock:
            child = self.children.get(key)
            if child is None or not child.alive():
                self._make_room()
                child = self.children[key] = ServedModel(settings, confinement)
            self._start_sweeper()
        # The same limit as every other run of a user's code that a page waits for.
        return child.ask(kind, payload, files or {}, settings.network_check_seconds)

    def _make_room(self) -> None:
        while len(self.children) >= MAX_SERVED:
            key = min(self.children, key=lambda k: self.children[k].last_used)
            self.children.pop(key).end()

    def _start_sweeper(self) -> None:
        if self._sweeper is None or not self._sweeper.is_alive():
            self._sweeper = threading.Thread(target=self._sweep, daemon=True)
            self._sweeper.start()

    def _sweep(self) -> None:
        while True:
            time.sleep(min(IDLE_SECONDS / 4, 30.0))
            with self.lock:
                now = time.monotonic()
                for key, child in list(self.children.items()):
                    if now - child.last_used > IDLE_SECONDS and not child.lock.locked():
                        self.children.pop(key).end()


served = ServedModels()


def answered_by_model(
    ctx: RequestContext, kind: str, handler, writable: tuple[Path, ...] = ()
) -> dict[str, Any]:
    """A request about a model (`job_id`): here if the model is our own code, else by its
    sandboxed child (which may write only `writable`)."""
    from digits.jobs.store import JobStore
    from digits.models.sandboxing import model_confinement

    store = JobStore(ctx.settings.jobs_dir)
    model_id = ctx.payload["job_id"]
    confinement, user_code = model_confinement(store, model_id, writable)
    if not user_code:
        return handler(ctx)
    payload, files = dict(ctx.payload), {}
    if payload.get("image_file"):
        files[payload["image_file"]] = (ctx.folder / payload["image_file"]).read_bytes()
    elif payload.get("path"):  # a server file the web checked; the sandbox cannot see it
        files["image"] = Path(payload.pop("path")).read_bytes()
        payload["image_file"] = "image"
    key = (model_id, kind if writable else "read")
    return served.ask(ctx.settings, key, confinement, kind, payload, files)


def main() -> None:
    """The child: limit memory, then answer requests with the model handlers."""
    from digits.models.network_check import limited_child

    answers = limited_child(int(sys.argv[1]))
    settings = load_settings()
    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryDirectory() as folder:
            for name, data in request["files"].items():
                (Path(folder) / Path(name).name).write_bytes(base64.b64decode(data))
            context = RequestContext(settings, Path(folder), request["payload"])
            answer = _answer(HANDLERS[request["kind"]](), context)
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def _classify_one():
    from digits.models.classify import classify_one

    return classify_one


def _export():
    from digits.models.export import export_request

    return export_request


# What a served model answers, by request kind (imported in the child only).
HANDLERS = {"classify_one": _classify_one, "export": _export}


def _answer(handler, context: RequestContext) -> dict[str, Any]:
    try:
        return {"result": handler(context)}
    except RequestFailed as exc:
        return {"error": str(exc)}
    except MemoryError:
        return {"error": "the model needs more memory than a request may use"}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


if __name__ == "__main__":
    main()
