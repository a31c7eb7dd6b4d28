"""Import a model (DIGITS 6's Upload Pretrained Model): an archive as Download makes it, or the
separate files. A worker of queue `infer` checks the upload (the network code runs there, in a
child with limits) and writes the model's files; the model job is made from them, Done at once."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from digits.datasets import images
from digits.forms import FormErrors
from digits.models.imported_job import IMPORTED_MODEL
from digits.models.importing import (
    ARCHIVE,
    IMAGE_TYPE_CHOICES,
    IMPORT_REQUEST,
    LABELS_FILE,
    MEAN_FILE,
    NETWORK_FILE,
    WEIGHTS_FILE,
)
from digits.models.layout import IMPORTED_FOLDER, SNAPSHOT_PATTERN
from digits.webapp.auth import current_user, login_required
from digits.webapp.http import job_parameters, wants_json
from digits.webapp.services import services
from digits.webapp.uploads import discard_staged, stage_archive
from digits.webapp.worker_requests import ask_worker

bp = Blueprint("imports", __name__)
FILE_FIELDS = (WEIGHTS_FILE, NETWORK_FILE, LABELS_FILE, MEAN_FILE)


@bp.route("/pretrained_models/new", methods=["GET"])
@login_required
def new_import():
    return _form_page({}, {})


def _form_page(values: dict, errors: dict, status: int = 200):
    page = render_template(
        "models/import.html",
        values=values,
        errors=errors,
        image_types=IMAGE_TYPE_CHOICES,
        resize_modes=images.RESIZE_MODES,
        default_resize_mode=images.DEFAULT_RESIZE_MODE,
    )
    return page, status


@bp.route("/pretrained_models/upload_archive", methods=["POST"])
@bp.route(
    "/pretrained_models/upload_archive.json", methods=["POST"], endpoint="upload_archive_json"
)
@login_required
def upload_archive():
    """DIGITS 6's route: the archive in `archive` (as our Download makes it), `job_name`."""
    form = job_parameters(request.form)
    try:
        staged, _ = stage_archive(request.files.get(ARCHIVE), ARCHIVE)
    except FormErrors as exc:
        return _refused(form, exc)
    form[ARCHIVE] = request.files[ARCHIVE].filename
    default_name = Path(form[ARCHIVE]).name.split(".")[0]
    return _import(staged.parent, form, ARCHIVE, default_name)


@bp.route("/pretrained_models/new", methods=["POST"])
@bp.route("/pretrained_models/new.json", methods=["POST"], endpoint="new_json")
@login_required
def upload_files():
    """DIGITS 6's separate files: `weights_file` (.pt, .pth or .safetensors), `model_def_file`
    (network.py), `labels_file`, `mean_file` (optional), `job_name`, `image_type`,
    `resize_mode`, `width`, `height`; ours: `normalize_mean`, `normalize_std`."""
    form = job_parameters(request.form)
    staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=services().settings.jobs_dir))
    for field in FILE_FIELDS:
        upload = request.files.get(field)
        if upload and upload.filename:
            suffix = ".safetensors" if upload.filename.endswith(".safetensors") else ""
            upload.save(staging / f"{field}{suffix}" if field == WEIGHTS_FILE else staging / field)
            form[field] = upload.filename
    return _import(staging, form, WEIGHTS_FILE, "imported model")


def _import(staging: Path, form: dict, field: str, default_name: str):
    """Check the staged upload on a worker and make the model from it; the staging folder is
    gone afterwards, whatever happened."""
    try:
        answer = ask_worker(IMPORT_REQUEST, {"staged": staging.name, "fields": form}, {}, field)
        name = (form.get("job_name") or "").strip() or default_name
        job = services().control.submit(
            IMPORTED_MODEL, name, current_user(), form, prepare=lambda f: _move(staging, f)
        )
    except FormErrors as exc:
        return _refused(form, exc)
    finally:
        discard_staged(staging / ARCHIVE)  # (removes the folder the name is in)
    if wants_json():
        return jsonify({"id": job.id, "name": job.name, "status": job.status.label} | answer)
    return redirect(url_for("jobs.show_models", job_id=job.id))


def _move(staging: Path, folder: Path) -> None:
    """The checked model's files into the job's folder; its snapshot where snapshots live."""
    shutil.move(staging / IMPORTED_FOLDER, folder / IMPORTED_FOLDER)
    for path in (folder / IMPORTED_FOLDER).iterdir():
        if SNAPSHOT_PATTERN.match(path.name):
            path.rename(folder / path.name)


def _refused(form: dict, exc: FormErrors):
    if wants_json():
        raise exc
    return _form_page(form, exc.errors, 400)
