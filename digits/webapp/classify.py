"""Using a trained model from the browser or the API: Classify One (done by a worker of queue
`infer`: the web process never loads a model), Classify Many and Top N (background jobs)."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from digits import tasks
from digits.data_roots import PathNotAllowed, resolve_in_roots
from digits.forms import FormErrors, field_error
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound
from digits.models.inference_job import IMAGE_CLASSIFICATION_INFERENCE
from digits.models.job_type import IMAGE_GENERIC_MODEL
from digits.models.layout import (
    CLASSIFY_LIST_FILE,
    CLASSIFY_UPLOAD_ARCHIVE,
    NoSuchSnapshot,
    list_snapshots,
    resolve_epoch,
)
from digits.models.options import parse_inference_options
from digits.webapp.auth import current_user
from digits.webapp.http import json_errors, wants_json
from digits.webapp.services import services
from digits.webapp.uploads import move_staged, stage_archive
from digits.webapp.worker_requests import ask_worker

bp = Blueprint("classify", __name__)


def model_and_epoch(form) -> tuple[Any, float | None]:
    """The model job named by `job_id` and the snapshot asked for (None: the latest)."""
    job_id = form.get("job_id", "")
    try:
        job = services().store.get(job_id)
    except JobNotFound:
        raise field_error("job_id", f"no model {job_id!r}") from None
    if job.kind != "model":
        raise field_error("job_id", f"job {job_id} is not a model")
    if not list_snapshots(services().store.folder(job.id)):
        raise field_error("job_id", "this model has no snapshot yet: wait for its first epoch")
    text = form.get("snapshot_epoch", "").strip()
    if not text:
        return job, None
    try:
        return job, resolve_epoch(services().store.folder(job.id), float(text))
    except ValueError:
        raise field_error("snapshot_epoch", f"{text!r} is not an epoch number") from None
    except NoSuchSnapshot as exc:
        raise field_error("snapshot_epoch", str(exc)) from None


def check_family(model, generic: bool, classification_route: str, generic_route: str) -> None:
    """A classifier is used at the classification routes, a generic model at the generic ones:
    the other family's route is a 400 saying where to go."""
    if (model.type == IMAGE_GENERIC_MODEL.name) != generic:
        route = classification_route if generic else generic_route
        raise field_error("job_id", f"model {model.name} is used at /models/images/{route}")


def image_source(files, form) -> tuple[dict[str, Any], dict[str, bytes], str]:
    """The request's image: an upload (`image_file`) or a server path under the data roots."""
    upload = files.get("image_file")
    if upload and upload.filename:
        data = upload.read()
        if not data:
            raise field_error("image_file", "the uploaded file is empty")
        return {"image_file": "image"}, {"image": data}, "image_file"
    path = form.get("image_path", "").strip()
    if not path:
        raise field_error("image_file", "upload an image (image_file) or give image_path")
    try:
        real = resolve_in_roots(path, services().settings.data_roots)
    except PathNotAllowed as exc:
        raise field_error("image_path", str(exc)) from None
    if not real.is_file():
        raise field_error("image_path", f"{path} is not a file")
    return {"path": str(real)}, {}, "image_path"


@bp.route("/models/images/classification/classify_one", methods=["POST"])
@bp.route(
    "/models/images/classification/classify_one.json",
    methods=["POST"],
    endpoint="classify_one_json",
)
def classify_one():
    """DIGITS' Classify One: `job_id`, `image_file` or `image_path`, `snapshot_epoch`,
    `show_visualizations`. From the model page's form, a refusal goes back there, beside the
    field it is about."""
    return _infer_one(generic=False)


@bp.route("/models/images/generic/infer_one", methods=["POST"])
@bp.route("/models/images/generic/infer_one.json", methods=["POST"], endpoint="infer_one_json")
def infer_one():
    """DIGITS' generic Infer One: the same fields as Classify One; the answer is the model's
    output values (`{"outputs": {"output": [[v1, ...]]}}` and `values` by name)."""
    return _infer_one(generic=True)


def _infer_one(generic: bool):
    # DIGITS' job_from_request: `job_id` in the query string (its pages post there) or the form.
    fields = request.values
    job, epoch = model_and_epoch(fields)
    check_family(job, generic, "classification/classify_one", "generic/infer_one")
    try:
        payload, files, field = image_source(request.files, fields)
        visualizations = fields.get("show_visualizations", "") not in ("", "0")
        payload |= {"job_id": job.id, "epoch": epoch, "visualizations": visualizations}
        answer = ask_worker("classify_one", payload, files, field)
    except FormErrors as exc:
        if wants_json():
            raise
        for name, messages in exc.errors.items():
            flash(" ".join(messages), f"classify_one:{name}")
        return redirect(url_for("jobs.show_models", job_id=job.id, _anchor="classify-one"))
    if wants_json():
        return jsonify(answer)
    histograms = {
        f"{layer['name']}/{part}": layer[part]["histogram"]
        for layer in answer.get("visualizations", [])
        for part in ("weights", "activations")
        if part in layer
    }
    return render_template(
        "models/classify_one.html",
        job=job,
        answer=answer,
        task=answer["task"],
        generic=generic,
        histograms=histograms,
    )


CLASSIFY_MANY_WAIT = 600.0  # seconds a JSON caller waits for the job before getting its id


def _many_inputs(form, files) -> dict[str, bytes | Path]:
    """Classify Many's images: `image_list` (a file of paths) or `image_archive` (class folders)."""
    listing = files.get("image_list")
    if listing and listing.filename:
        data = listing.read()
        if not data.strip():
            raise field_error("image_list", "the list is empty")
        return {CLASSIFY_LIST_FILE: data}
    upload = files.get("image_archive")
    if upload and upload.filename:
        return {CLASSIFY_UPLOAD_ARCHIVE: stage_archive(upload, "image_archive")[0]}
    raise field_error(
        "image_list",
        "upload a list of images (image_list) or an archive of class folders (image_archive)",
    )


def _stage(inputs: dict):
    """Put the inputs in the job's folder (the job unpacks an archive on its worker)."""

    def prepare(folder: Path) -> None:
        if CLASSIFY_LIST_FILE in inputs:
            (folder / CLASSIFY_LIST_FILE).write_bytes(inputs[CLASSIFY_LIST_FILE])
        else:
            move_staged(inputs[CLASSIFY_UPLOAD_ARCHIVE], folder / CLASSIFY_UPLOAD_ARCHIVE)

    return prepare


def _submit_many(top_n: bool, generic: bool = False):
    form = request.values  # `job_id` in the query string, as DIGITS' pages post it, or the form
    model, epoch = model_and_epoch(form)
    check_family(model, generic, "classification/classify_many", "generic/infer_many")
    parameters = {
        "job_id": model.id,
        "snapshot_epoch": "" if epoch is None else f"{epoch:g}",
        "image_folder": form.get("image_folder", ""),
        "num_test_images": form.get("num_test_images", ""),
        "top_n": form.get("top_n", ""),
    }
    try:
        parse_inference_options(parameters)  # the job reads them so: all fields checked now
    except FormErrors as exc:
        raise FormErrors(exc.errors) from None
    inputs = _many_inputs(form, request.files)
    for field in ("image_list", "image_archive"):
        if request.files.get(field) and request.files[field].filename:
            parameters[field] = request.files[field].filename  # what was uploaded, for its page
    action = "Infer Many" if generic else "Top N" if top_n else "Classify Many"
    name = f"{action} with {model.name}"
    owner = current_user() or "anonymous"
    job = services().control.submit(
        IMAGE_CLASSIFICATION_INFERENCE, name, owner, parameters, _stage(inputs)
    )
    if not wants_json():
        return redirect(url_for("jobs.show_models", job_id=job.id))
    finished = _wait_for_end(job.id, CLASSIFY_MANY_WAIT)
    if finished is None:
        return jsonify({"job_id": job.id, "status": "Running"}), 202
    if finished.status is not Status.DONE:
        return json_errors(
            {"job_id": [f"job {job.id} ended {finished.status.label}: {finished.error or ''}"]}
        )
    detail = services().detail(finished)
    results = detail["results"]
    answer = {"job_id": job.id, "errors": results["errors"]}
    answer |= {key: results.get(key) for key in ("device", "device_note")}
    answer |= tasks.get(detail["task"]).many_json(detail, top_n)
    return jsonify(answer)


def _wait_for_end(job_id: str, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = services().store.get(job_id)
        if job.status.is_terminal:
            return job
        time.sleep(0.02)  # a small job takes a fraction of a second: answer soon after
    return None


@bp.route("/models/images/classification/classify_many", methods=["POST"])
@bp.route(
    "/models/images/classification/classify_many.json",
    methods=["POST"],
    endpoint="classify_many_json",
)
def classify_many():
    """DIGITS' Classify Many, as a background job: `job_id`, `image_list` (or `image_archive`),
    `image_folder`, `num_test_images`, `snapshot_epoch`. JSON callers wait for the answer."""
    return _submit_many(top_n=False)


@bp.route("/models/images/generic/infer_many", methods=["POST"])
@bp.route("/models/images/generic/infer_many.json", methods=["POST"], endpoint="infer_many_json")
def infer_many():
    """DIGITS' generic Infer Many: Classify Many's fields; `image_list` may be a CSV of
    `path,v1,...` with the known values, for the error per output."""
    return _submit_many(top_n=False, generic=True)


@bp.route("/jobs/<job_id>/outputs.csv")
def outputs_csv(job_id: str):
    """An Infer Many run's table: path, each output's value (and known value), as CSV."""
    try:
        job = services().store.get(job_id)
    except JobNotFound:
        abort(404)
    results = services().detail(job).get("results") or {}
    if "outputs" not in results:
        abort(404)
    names = results["outputs"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["path", *names, *(f"{name} (known)" for name in names)])
    for row in results["rows"]:
        writer.writerow([row["path"], *row["output"], *(row["target"] or [])])
    filename = f"{job_id}-outputs.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/models/images/classification/top_n", methods=["POST"])
@bp.route("/models/images/classification/top_n.json", methods=["POST"], endpoint="top_n_json")
def top_n():
    """DIGITS' Top N Predictions per Category: Classify Many's inputs and `top_n`."""
    return _submit_many(top_n=True)
