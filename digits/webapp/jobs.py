"""Routes common to every job: its page, status, rename, abort, delete and clone.

DIGITS answered these under /jobs, /datasets and /models alike; so do we.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import (
    Blueprint,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from digits.files import open_regular
from digits.forms import GROUP_FIELD, group_field, name_field, notes_field
from digits.jobs import types
from digits.jobs.control import JobFinished, JobInUse
from digits.jobs.recovery import CannotResume
from digits.jobs.store import JobNotFound
from digits.jobs.types import UnknownJobType
from digits.webapp.auth import current_user, login_required, may_change
from digits.webapp.http import error_response, job_parameters, json_errors, wants_json
from digits.webapp.services import services

bp = Blueprint("jobs", __name__)

PREFIXES = ("/jobs", "/datasets", "/models")
LOG_TAIL = 500


def owner_only(view):
    """Only the job's owner or an admin may change it (anyone, on a server without accounts):
    a 403 for others. A job that does not exist is a 404 first."""

    @functools.wraps(view)
    def wrapped(job_id: str, *args, **kwargs):
        job = services().store.get(job_id)
        if not may_change(job.owner):
            return error_response(
                f"only the job's owner ({job.owner}) or an admin may do this", 403, field="job_id"
            )
        return view(job_id, *args, **kwargs)

    return wrapped


def _route(rule: str, **options):
    """Register a view under /jobs, /datasets and /models, each with a `.json` twin."""

    def decorator(view):
        for prefix in PREFIXES:
            for suffix in ("", ".json"):
                endpoint = f"{view.__name__}_{prefix.strip('/')}{suffix.replace('.', '_')}"
                bp.add_url_rule(prefix + rule + suffix, endpoint, view, **options)
        return view

    return decorator


@_route("/<job_id>", methods=["GET"])
def show(job_id: str):
    svc = services()
    # Events first, then job.json: the page is then at least as new as its last event's seq.
    events = svc.history(job_id)
    job = svc.store.get(job_id)
    detail = svc.detail(job)
    if wants_json():
        return jsonify(detail)
    if request.path.startswith("/jobs/"):
        return redirect(url_for(f"jobs.show_{job.kind}s", job_id=job_id))
    log_lines = [e for e in events if e.get("update") == "log"][-LOG_TAIL:]
    job_type = types.of(job)
    return render_template(
        "job.html",
        job=detail,
        run_of=_job_or_none(detail["run_of"]),
        parameters=parameter_rows(job_type, detail["parameters"]),
        log_lines=log_lines,
        last_seq=events[-1]["seq"] if events else -1,
        clone_form=bool(job_type.form_endpoint),
        type_template=job_type.page_template,
        page_data=job_type.page_data(job, svc.store.folder(job_id), request.args)
        if job_type.page_data
        else {},
    )


def _job_or_none(job_id: str | None):
    try:
        return services().store.get(job_id) if job_id else None
    except JobNotFound:
        return None


def parameter_rows(job_type: types.JobType, parameters: dict) -> list[tuple[str, Any]]:
    """The Parameters table: the type's titles for its fields, or else each field by name."""
    if job_type.parameter_titles is None:
        return [(key, value) for key, value in sorted(parameters.items())]
    return [(title, parameters.get(key)) for key, title in job_type.parameter_titles]


@bp.route("/jobs/<job_id>/status")
@bp.route("/datasets/<job_id>/status")
@bp.route("/models/<job_id>/status")
def status(job_id: str):
    """DIGITS' status call: always JSON, a job that is gone too (a 404 saying so)."""
    try:
        job = services().store.get(job_id)
    except JobNotFound:
        message = f"job {job_id} not found"
        return jsonify({"error": message, "errors": {"job_id": [message]}}), 404  # DIGITS' key
    return jsonify(
        {
            "status": job.status.label,
            "name": job.name,
            "type": job.type,
            "error": job.error,
            "progress": job.progress,
        }
    )


@_route("/<job_id>", methods=["PUT"])
@login_required
@owner_only
def edit(job_id: str):
    """A job's name (`job_name`), notes (`job_notes`) or group (`group_name`, blank: none)."""
    errors: dict[str, list[str]] = {}
    form = request.form
    name = name_field(form, "job_name", errors, "job") if "job_name" in form else None
    notes = notes_field(form, "job_notes", errors)
    group = group_field(form, errors) if GROUP_FIELD in form else None
    if name is None and notes is None and group is None and not errors:
        return json_errors({"job_name": ["send job_name, job_notes and/or group_name"]})
    if errors:
        return json_errors(errors)
    services().store.get(job_id)  # 404 before anything else
    job = services().events.describe(job_id, name, notes, group)
    return jsonify(services().detail(job))


@_route("/<job_id>", methods=["DELETE"])
@login_required
@owner_only
def delete(job_id: str):
    try:
        services().control.delete(job_id)
    except JobInUse as exc:
        return error_response(str(exc), 403, field="job_id")
    return "Job deleted.", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.route("/files/<path:path>")
def job_file(path: str):
    """DIGITS' /files/<job id>/<file>: a job's own files (its LMDBs' data, snapshots, logs),
    read as the job is read; nothing outside a job's folder, nothing hidden in it."""
    job_id, _, inside = path.partition("/")
    job = services().store.get(job_id)  # 404 for anything that is not a job
    parts = inside.split("/")
    if not inside or any(part.startswith(".") or not part for part in parts):
        return error_response(f"no file {inside!r} in job {job_id}", 404, field="path")
    try:  # the job's own regular files: no link its code planted is followed
        jobs_dir = services().settings.jobs_dir
        file = open_regular(services().store.folder(job.id).joinpath(*parts), jobs_dir)
    except (FileNotFoundError, NotADirectoryError):
        return error_response(f"no file {inside!r} in job {job_id}", 404, field="path")
    return send_file(file, download_name=parts[-1])


# DIGITS' home page acts on the jobs ticked in its tables: `job_ids[]`, each checked as the
# single-job routes check it, and one answer for all (DIGITS' words and status codes).


@bp.route("/group", methods=["POST"])
@login_required
def group_ticked_jobs():
    errors: dict[str, list[str]] = {}
    group = group_field(request.form, errors) or ""
    if errors:
        return json_errors(errors)
    return _each_job(
        "regrouped", lambda job_id: services().events.describe(job_id, None, None, group)
    )


@bp.route("/jobs", methods=["DELETE"])
@login_required
def delete_ticked_jobs():
    return _each_job("deleted", services().control.delete, failures=(JobInUse,))


@bp.route("/abort_jobs", methods=["POST"])
@login_required
def abort_ticked_jobs():
    return _each_job("aborted", services().control.abort, failures=(JobFinished,))


def _each_job(done: str, action, failures: tuple = ()):
    counts = {"not found": 0, f"not permitted to be {done}": 0, f"failed to be {done}": 0}
    for job_id in request.form.getlist("job_ids[]"):
        try:
            job = services().store.get(job_id)
        except JobNotFound:
            counts["not found"] += 1
            continue
        if not may_change(job.owner):
            counts[f"not permitted to be {done}"] += 1
            continue
        try:
            action(job_id)
        except failures:
            counts[f"failed to be {done}"] += 1
    problems = [f"{n} job{'' if n == 1 else 's'} {what}." for what, n in counts.items() if n]
    if problems:
        return error_response(" ".join(problems), 400, field="job_ids[]")
    return f"Jobs {done}.", 200, {"Content-Type": "text/plain; charset=utf-8"}


def _changed(job):
    """A changed job, as its JSON for the API or its page for a browser."""
    if wants_json():
        return jsonify(services().detail(job))
    return redirect(url_for(f"jobs.show_{job.kind}s", job_id=job.id))


@_route("/<job_id>/abort", methods=["POST"])
@login_required
@owner_only
def abort(job_id: str):
    try:
        job = services().control.abort(job_id)
    except JobFinished as exc:
        return error_response(str(exc), 400, field="job_id")
    return _changed(job)


@_route("/<job_id>/resume", methods=["POST"])
@login_required
@owner_only
def resume(job_id: str):
    """Beyond DIGITS (its most asked-for feature, #24): an Aborted or Error job goes on from
    where it got to, a model from its latest snapshot with its optimizer and random states."""
    try:
        job = services().control.resume(job_id)
    except CannotResume as exc:
        return error_response(str(exc), 400, field="job_id")
    return _changed(job)


def clone_values(name_field: str) -> dict:
    """A creation form's values when it opens as a Clone (`?clone=<id>`): the job's own."""
    if not request.args.get("clone"):
        return {}
    values = job_parameters(services().store.get(request.args["clone"]).parameters)
    values[name_field] = f"{values.get(name_field, '')} (clone)"
    return values


@bp.route("/clone/<job_id>", methods=["GET"])
def clone_form(job_id: str):
    """DIGITS' Clone: the job's creation form, prefilled with its parameters."""
    job = services().store.get(job_id)
    job_type = types.of(job)
    if job_type.form_endpoint is None:
        return error_response(f"jobs of type {job.type!r} have no form to clone into", 404)
    return redirect(url_for(job_type.form_endpoint, clone=job_id))


@bp.route("/clone/<job_id>", methods=["POST"])
@bp.route("/clone/<job_id>.json", methods=["POST"])
@login_required
def clone(job_id: str):
    """Beyond DIGITS: submit a copy of the job at once, as its owner would resubmit it."""
    try:
        job = services().control.clone(job_id, current_user())
    except UnknownJobType as exc:
        return error_response(str(exc), 400, field="job_id")
    if wants_json():
        return jsonify({"id": job.id, "name": job.name, "status": job.status.label})
    return redirect(url_for(f"jobs.show_{job.kind}s", job_id=job.id))
