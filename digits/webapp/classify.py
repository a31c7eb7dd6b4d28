"""Using a trained model from the browser or the API: Classify One and Download, both done by a
worker of queue `infer` (the web process never loads a model)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request, send_file

from digits.config import INFER_QUEUE
from digits.data_roots import PathNotAllowed, resolve_in_roots
from digits.jobs.requests import RequestFailed, RequestTimedOut, ask
from digits.jobs.store import JobNotFound
from digits.jobs.workers import live_workers
from digits.models.archive import archive_path, build_archive, export_folder
from digits.models.layout import list_snapshots
from digits.webapp.http import error_response, json_errors, wants_json
from digits.webapp.services import services

bp = Blueprint("classify", __name__)
CLASSIFY_TIMEOUT = 120.0  # seconds: a first request loads the model (a big one takes a while)


class BadRequest(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def _errors(field: str, message: str) -> BadRequest:
    return BadRequest({field: [message]})


def model_and_epoch(form) -> tuple[Any, float | None]:
    """The model job named by `job_id` and the snapshot asked for (None: the latest)."""
    job_id = form.get("job_id", "")
    try:
        job = services().store.get(job_id)
    except JobNotFound:
        raise _errors("job_id", f"no model {job_id!r}") from None
    if job.kind != "model":
        raise _errors("job_id", f"job {job_id} is not a model")
    epochs = list_snapshots(services().store.folder(job.id))
    if not epochs:
        raise _errors("job_id", "this model has no snapshot yet: wait for its first epoch")
    text = form.get("snapshot_epoch", "").strip()
    if not text:
        return job, None
    try:
        epoch = float(text)
    except ValueError:
        raise _errors("snapshot_epoch", f"{text!r} is not an epoch number") from None
    if epoch not in epochs:
        listed = ", ".join(f"{e:g}" for e in epochs)
        raise _errors("snapshot_epoch", f"no snapshot at epoch {epoch:g}; there are {listed}")
    return job, epoch


def image_source(files, form) -> tuple[dict[str, Any], dict[str, bytes], str]:
    """The request's image: an upload (`image_file`) or a server path under the data roots."""
    upload = files.get("image_file")
    if upload and upload.filename:
        data = upload.read()
        if not data:
            raise _errors("image_file", "the uploaded file is empty")
        return {"image_file": "image"}, {"image": data}, "image_file"
    path = form.get("image_path", "").strip()
    if not path:
        raise _errors("image_file", "upload an image (image_file) or give image_path")
    try:
        real = resolve_in_roots(path, services().settings.data_roots)
    except PathNotAllowed as exc:
        raise _errors("image_path", str(exc)) from None
    if not real.is_file():
        raise _errors("image_path", f"{path} is not a file")
    return {"path": str(real)}, {}, "image_path"


def ask_worker(kind: str, payload: dict, files: dict[str, bytes], field: str) -> dict:
    """A request to a worker of queue `infer`; its refusal becomes an error on `field`."""
    settings = services().settings
    if not any(INFER_QUEUE in w.get("queues", ()) for w in live_workers(settings)):
        raise ServiceUnavailable(f"no worker is serving queue {INFER_QUEUE}: start `digits "
                                 f"worker --queues {INFER_QUEUE}` (or `digits serve`)")  # fmt: skip
    try:
        return ask(settings, services().scheduler.celery, kind, payload, files, CLASSIFY_TIMEOUT)
    except RequestFailed as exc:
        raise _errors(field, str(exc)) from None
    except RequestTimedOut as exc:
        raise ServiceUnavailable(f"{exc}: the workers of queue {INFER_QUEUE} are busy") from None


class ServiceUnavailable(Exception):
    pass


@bp.errorhandler(BadRequest)
def bad_request(exc: BadRequest):
    if wants_json():
        return json_errors(exc.errors)
    message = "; ".join(f"{field}: {m}" for field, ms in exc.errors.items() for m in ms)
    return error_response(message, 400)


@bp.errorhandler(ServiceUnavailable)
def unavailable(exc: ServiceUnavailable):
    return error_response(str(exc), 503)


@bp.route("/models/images/classification/classify_one", methods=["POST"])
@bp.route("/models/images/classification/classify_one.json", methods=["POST"],
          endpoint="classify_one_json")  # fmt: skip
def classify_one():
    """DIGITS' Classify One: `job_id`, `image_file` or `image_path`, `snapshot_epoch`,
    `show_visualizations`."""
    job, epoch = model_and_epoch(request.form)
    payload, files, field = image_source(request.files, request.form)
    visualizations = request.form.get("show_visualizations", "") not in ("", "0")
    payload |= {"job_id": job.id, "epoch": epoch, "visualizations": visualizations}
    answer = ask_worker("classify_one", payload, files, field)
    if wants_json():
        return jsonify(answer)
    histograms = {
        f"{layer['name']}/{part}": layer[part]["histogram"]
        for layer in answer.get("visualizations", [])
        for part in ("weights", "activations")
        if part in layer
    }
    return render_template(
        "models/classify_one.html", job=job, answer=answer, histograms=histograms
    )


DOWNLOAD_FORMATS = {
    "": "tar.gz",
    ".tar.gz": "tar.gz",
    ".tgz": "tar.gz",
    ".tar": "tar",
    ".zip": "zip",
}


@bp.route("/models/<job_id>/download", defaults={"extension": ""})
@bp.route("/models/<job_id>/download<any('.tar.gz', '.tgz', '.tar', '.zip'):extension>")
def download(job_id: str, extension: str):
    """DIGITS' Download Model: `?epoch=N` (default: the latest snapshot) as `.tar.gz`, `.tar`
    or `.zip`, holding weights, network source, labels, mean, info.json, TorchScript, ONNX."""
    job = services().store.get(job_id)
    if job.kind != "model":
        return error_response(f"job {job_id} is not a model", 404, field="job_id")
    if not list_snapshots(services().store.folder(job.id)):
        return error_response("this model has no snapshot to download yet", 404, field="epoch")
    _, epoch = model_and_epoch({"job_id": job.id, "snapshot_epoch": request.args.get("epoch", "")})
    answer = ask_worker("export", {"job_id": job.id, "epoch": epoch}, {}, "epoch")
    fmt = DOWNLOAD_FORMATS[extension]
    folder = export_folder(services().store.folder(job.id), answer["epoch"])
    path = archive_path(folder, job.id, answer["epoch"], fmt)
    if not path.exists():
        build_archive(folder, job.id, answer["epoch"], fmt)
    name = f"{job.id}_epoch_{answer['epoch']:g}{extension or '.tar.gz'}"
    return send_file(path, as_attachment=True, download_name=name)
