"""Download Model: a snapshot as an archive that runs elsewhere (its files made by a worker of
queue `infer`, packed here)."""

from __future__ import annotations

from flask import Blueprint, request, send_file

from digits.files import open_regular
from digits.models.download import build_archive, export_folder
from digits.models.layout import list_snapshots
from digits.webapp.classify import model_and_epoch
from digits.webapp.http import error_response
from digits.webapp.services import services
from digits.webapp.worker_requests import ask_worker

bp = Blueprint("downloads", __name__)

DOWNLOAD_FORMATS = {
    "": "tar.gz",
    ".tar.gz": "tar.gz",
    ".tgz": "tar.gz",
    ".tar": "tar",
    ".zip": "zip",
    ".tar.bz2": "tar.bz2",
}


@bp.route("/models/<job_id>/download", defaults={"extension": ""}, methods=["GET", "POST"])
@bp.route(
    "/models/<job_id>/download<any('.tar.gz', '.tgz', '.tar', '.zip', '.tar.bz2'):extension>",
    methods=["GET", "POST"],
)
def download(job_id: str, extension: str):
    """DIGITS' Download Model: `?epoch=N` (or `snapshot_epoch`, as DIGITS' own button posts it;
    default: the latest snapshot) as `.tar.gz`, `.tar`, `.tar.bz2` or `.zip`, holding weights,
    network source, labels, mean, info.json, TorchScript, ONNX."""
    job = services().store.get(job_id)
    if job.kind != "model":
        return error_response(f"job {job_id} is not a model", 404, field="job_id")
    if not list_snapshots(services().store.folder(job.id)):
        return error_response("this model has no snapshot to download yet", 404, field="epoch")
    asked = request.values.get("epoch") or request.values.get("snapshot_epoch", "")
    _, epoch = model_and_epoch({"job_id": job.id, "snapshot_epoch": asked})
    answer = ask_worker("export", {"job_id": job.id, "epoch": epoch}, {}, "epoch")
    fmt = DOWNLOAD_FORMATS[extension]
    folder = export_folder(services().store.folder(job.id), answer["epoch"])
    try:
        path = build_archive(folder, job.id, answer["epoch"], fmt)
        archive = open_regular(path, services().settings.jobs_dir)
    except FileNotFoundError:  # a link or no file where the export should be
        return error_response("this model's export is not usable; delete it", 404, field="epoch")
    name = f"{job.id}_epoch_{answer['epoch']:g}{extension or '.tar.gz'}"
    return send_file(archive, as_attachment=True, download_name=name)
