"""A stand-in job type for the tests (loaded as a plugin): counts through steps, live.

It is not part of the package; the real dataset and training jobs replace it in their own tests.
"""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request

from digits.config import CPU_QUEUE, GPU_QUEUE
from digits.hardware.leases import GpuRequest
from digits.jobs.child import run_in_child
from digits.jobs.page_requests import RequestContext, RequestFailed, register_handler
from digits.jobs.types import JobType, register
from digits.jobs.warm import WarmModule
from digits.webapp.auth import current_user, login_required
from digits.webapp.services import services


def run(ctx) -> None:
    steps = int(ctx.parameters.get("steps", 10))
    delay = float(ctx.parameters.get("delay", 0.05))
    fail_at = ctx.parameters.get("fail_at")
    for step in range(steps):
        ctx.check_abort()
        if fail_at not in (None, "") and step == int(fail_at):
            raise ValueError(f"failed at step {step} as asked")
        time.sleep(delay)
        ctx.log(f"step {step + 1}/{steps}")
        ctx.progress((step + 1) / steps)


def gpu_request(job) -> GpuRequest:
    """Like a training job's: `select_gpus` by index, or any `select_gpu_count`."""
    indexes = tuple(int(g) for g in job.parameters.get("select_gpus", "").split(",") if g)
    return GpuRequest(indexes, int(job.parameters.get("select_gpu_count", 1)))


TYPES = {
    "dataset": register(JobType("test-countdown-dataset", "dataset", CPU_QUEUE, run, "Countdown")),
    # The same steps in a child forked from the worker, as Classify Many runs (digits.jobs.warm).
    "warm": register(
        JobType(
            "test-countdown-warm",
            "dataset",
            CPU_QUEUE,
            run_in_child(WarmModule("tests.support.countdown_job", "run")),
            "Countdown",
        )
    ),
    "model": register(
        JobType(
            "test-countdown-model",
            "model",
            GPU_QUEUE,
            run,
            "Countdown",
            gpu_request=gpu_request,
            depends_on=lambda job: (
                [job.parameters["dataset"]] if "dataset" in job.parameters else []
            ),
        )
    ),
}

bp = Blueprint("countdown", __name__)


@bp.route("/test/countdown.json", methods=["POST"])
@login_required
def create():
    kind = request.form.get("kind", "dataset")
    parameters = {
        key: request.form[key]
        for key in ("steps", "delay", "fail_at", "dataset", "select_gpus", "select_gpu_count")
        if key in request.form
    }
    name, group = request.form.get("name", "countdown"), request.form.get("group_name", "")
    job = services().control.submit(TYPES[kind], name, current_user(), parameters, group=group)
    return jsonify({"id": job.id, "name": job.name, "status": job.status.label})


def echo(ctx: RequestContext) -> dict:
    """A request handler for the tests: the payload back, with the sizes of the files sent."""
    if ctx.payload.get("refuse"):
        raise RequestFailed(f"refused: {ctx.payload['refuse']}")
    files = {p.name: p.stat().st_size for p in ctx.folder.iterdir() if p.name != "request.json"}
    return {"payload": ctx.payload, "files": files}


register_handler("test-echo", echo)


def init_app(app) -> None:
    app.register_blueprint(bp)
