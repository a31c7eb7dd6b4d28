"""Compare models: their curves on shared axes, and a table of what they were given (only what
differs) and what they reached. `/models/compare?job_id=a&job_id=b` (or `?group=<name>`: every
model of a group, a sweep's included), its JSON twin for scripts."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, jsonify, render_template, request

from digits import tasks
from digits.files import read_last_json_lines
from digits.jobs import types
from digits.jobs.events import EVENTS_FILE
from digits.jobs.job import Job
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound
from digits.models.job_type import read_metrics
from digits.webapp.http import error_response, wants_json
from digits.webapp.services import services

bp = Blueprint("compare", __name__)

MAX_MODELS = 50
# Parameters that name or file a job rather than set how it trains.
NOT_SETTINGS = frozenset({"model_name", "group_name", "dataset"})
RECENT_EVENTS = 400  # a job's last events, searched for its latest speed


@bp.route("/models/compare")
@bp.route("/models/compare.json", endpoint="compare_json")
def compare():
    ids = request.args.getlist("job_id")
    group = request.args.get("group", "")
    jobs = _models(ids, group)
    if isinstance(jobs, str):
        return error_response(jobs, 400, field="job_id")
    data = comparison(jobs)
    if wants_json():
        return jsonify(data)
    return render_template("models/compare.html", data=data, group=group)


def _models(ids: list[str], group: str) -> list[Job] | str:
    """The models asked for, in the order asked (a group's: oldest first), or what is wrong."""
    store = services().store
    if group:
        jobs = [job for job in store.list() if job.group == group]
        jobs.sort(key=lambda job: job.status_history[0].time if job.status_history else 0)
    else:
        jobs = []
        for job_id in dict.fromkeys(ids):
            try:
                jobs.append(store.get(job_id))
            except JobNotFound:
                return f"no model {job_id}"
    jobs = [job for job in jobs if _trained_model(job)]
    if not jobs:
        return "choose models to compare: job_id=<id> (repeated) or group=<name>"
    if len(jobs) > MAX_MODELS:
        return f"at most {MAX_MODELS} models at once"
    return jobs


def _trained_model(job: Job) -> bool:
    """A model that trains (not a Classify Many run, a range test or a search, which are
    model jobs too)."""
    return types.of(job).trains


def comparison(jobs: list[Job]) -> dict[str, Any]:
    models = [_model(job) for job in jobs]
    differing = _differing([model["parameters"] for model in models])
    for model in models:
        model["settings"] = {key: model["parameters"].get(key, "") for key in differing}
    generic = any(model["generic"] for model in models)
    # Models of one task are compared: the first's judges the best and says what the columns
    # and chart show.
    task = tasks.get(models[0]["task"]) if models else tasks.get(tasks.DEFAULT_TASK)
    _mark_best(models, task.metric)
    return {
        "models": models,
        "differing": differing,
        "generic": generic,
        "columns": task.compare_columns(),
        "score": task.compare_chart(),
    }


def _model(job: Job) -> dict[str, Any]:
    svc = services()
    detail = svc.detail(job)
    folder = svc.store.folder(job.id)
    best = detail.get("best") or {}
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status.label,
        "group": job.group,
        "generic": bool(detail.get("generic")),
        "network": detail.get("network"),
        "parameters": {
            k: str(v) for k, v in job.parameters.items() if k not in NOT_SETTINGS and k != "appends"
        },
        "best_epoch": best.get("epoch"),
        "best_val_top1": best.get("val_top1"),
        "best_val_loss": best.get("val_loss"),
        "best_val_mae": best.get("val_mae"),
        "task": detail.get("task") or tasks.DEFAULT_TASK,
        "best_row": best,
        "time_taken": _time_taken(job),
        "images_per_sec": _speed(folder),
        "metrics": read_metrics(folder),
        "seq": svc.last_seq(job.id),
    }


def _differing(parameters: list[dict[str, str]]) -> list[str]:
    """The fields whose values are not the same for every model (a missing one counts as "")."""
    keys = sorted({key for each in parameters for key in each})
    return [key for key in keys if len({each.get(key, "") for each in parameters}) > 1]


def _time_taken(job: Job) -> float | None:
    """Seconds from its first start to its end (to now while it runs)."""
    started = next((c.time for c in job.status_history if c.status is Status.RUN), None)
    if started is None:
        return None
    ended = job.status_history[-1].time if job.status.is_terminal else time.time()
    return ended - started


def _speed(folder) -> float | None:
    events = read_last_json_lines(folder / EVENTS_FILE, RECENT_EVENTS)
    rates = [e["images_per_sec"] for e in events if "images_per_sec" in e]
    return rates[-1] if rates else None


def _mark_best(models: list[dict[str, Any]], metric: tasks.Metric) -> None:
    """The one whose best validation is the best by the task's metric (the first of equals)."""
    best = metric.best_row(model["best_row"] for model in models)
    for model in models:
        model["best"] = best is not None and model["best_row"] is best
