"""Dataset routes: the New Dataset form and its API, the mean image, Explore, resize examples."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
from flask import (
    Blueprint,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.datastructures import FileStorage

from digits import tasks
from digits.data_roots import PathNotAllowed, resolve_in_roots
from digits.datasets import images, layout, limits, targets
from digits.datasets.database import browse, read_record
from digits.datasets.job_type import IMAGE_CLASSIFICATION_DATASET, IMAGE_GENERIC_DATASET
from digits.datasets.layout import read_info
from digits.datasets.options import (
    CHANNEL_CHOICES,
    ENCODING_CHOICES,
    GENERIC_METHODS,
    METHODS,
    PREBUILT_FIELDS,
    FormErrors,
    parse_image_settings,
    parse_options,
)
from digits.datasets.parsing import (
    SPLITS,
    ParseError,
    folder_in_roots,
    list_images,
    parse_labels_file,
    parse_list_file,
)
from digits.forms import add_error, is_whole_number
from digits.jobs.control import JobNotDone
from digits.webapp.auth import current_user, login_required
from digits.webapp.http import error_response, job_parameters, json_errors, wants_json
from digits.webapp.jobs import clone_values, owner_only
from digits.webapp.services import services
from digits.webapp.uploads import discard_staged, move_staged, stage_archive

bp = Blueprint("datasets", __name__)
EXPLORE_PAGE_SIZE = 24
# The form's lists, each from the code that checks the field.
FORM_CHOICES = {
    "methods": METHODS,
    "generic_methods": GENERIC_METHODS,
    "image_types": CHANNEL_CHOICES,
    "resize_modes": images.RESIZE_MODES,
    "default_resize_mode": images.DEFAULT_RESIZE_MODE,
    "encodings": ENCODING_CHOICES,
}


@bp.route("/datasets/images/classification/new")
@login_required
def new_classification():
    values = clone_values("dataset_name")
    return _form_page(values, {})


def _form_page(values: dict, errors: dict) -> str:
    return render_template("datasets/new.html", values=values, errors=errors, choices=FORM_CHOICES)


@bp.route("/datasets/images/classification", methods=["POST"])
@bp.route("/datasets/images/classification.json", methods=["POST"], endpoint="create_json")
@login_required
def create_classification():
    form = job_parameters(request.form)
    errors: dict[str, list[str]] = {}
    staged: dict[str, object] = {}
    try:
        options = parse_options(form)
    except FormErrors as exc:
        errors, options = exc.errors, None
    if options is not None:
        images = _check_sources(options.method, form, errors, staged)
        if not errors and options.method not in PREBUILT_FIELDS:  # those: their own sizes
            _check_size(options, images, errors)
    if options is not None and options.generic:
        add_error(errors, "method", "that method makes a generic dataset: see Images → Other")
    return _submit(IMAGE_CLASSIFICATION_DATASET, form, options, errors, staged, _form_page)


def _submit(job_type, form: dict, options, errors: dict, staged: dict, form_page):
    """The job, or the form again (a 400) with every problem beside its field."""
    if errors:
        _discard(staged)
        if wants_json():
            return json_errors(errors)
        return form_page(form, errors), 400
    for name, upload in request.files.items():
        if upload.filename:
            form[name] = upload.filename  # the parameters record what was uploaded
    job = services().control.submit(
        job_type,
        options.name,
        current_user(),
        form,
        prepare=lambda folder: _move_staged(staged, folder),
        group=options.group,
    )
    if wants_json():
        return jsonify({"id": job.id, "name": job.name, "status": job.status.label})
    return redirect(url_for("jobs.show_datasets", job_id=job.id))


@bp.route("/datasets/images/generic/new")
@login_required
def new_generic():
    values = clone_values("dataset_name")
    return _generic_form_page(values, {})


def _generic_form_page(values: dict, errors: dict) -> str:
    return render_template(
        "datasets/new_generic.html", values=values, errors=errors, choices=FORM_CHOICES
    )


@bp.route("/datasets/images/generic", methods=["POST"])
@bp.route("/datasets/images/generic.json", methods=["POST"], endpoint="create_generic_json")
@login_required
def create_generic():
    """DIGITS' generic ("Other") dataset: a vector of values per image, from a CSV
    (`csv_train` or `csv_local_train`, optional `csv_val`/`csv_local_val`), images under
    `csv_folder` on the server or in an uploaded `upload_archive`."""
    form = job_parameters(request.form)
    form["method"] = form.get("method") or "csv"
    errors: dict[str, list[str]] = {}
    staged: dict[str, object] = {}
    try:
        options = parse_options(form)
    except FormErrors as exc:
        errors, options = exc.errors, None
    if form["method"] not in GENERIC_METHODS:
        add_error(errors, "method", f"a generic dataset is made by {', '.join(GENERIC_METHODS)}")
    elif form["method"] == "prebuilt":
        _check_prebuilt(form, "prebuilt", errors)
    else:
        images = _check_csv(form, errors, staged)
        if options is not None and not errors:
            _check_size(options, images, errors)
    return _submit(IMAGE_GENERIC_DATASET, form, options, errors, staged, _generic_form_page)


def _check_csv(form: dict, errors: dict, staged: dict) -> int:
    """The CSVs of values and where their images are; the number of images they list."""
    roots = services().settings.data_roots
    archive = request.files.get("upload_archive")
    if archive and archive.filename:
        _check_upload(archive, errors, staged)
    elif form.get("csv_folder"):
        try:
            folder_in_roots(form["csv_folder"], roots, "csv_folder")
        except ParseError as exc:
            add_error(errors, exc.field, str(exc))
    images, outputs = 0, None
    for split, field in (("train", "csv_train"), ("val", "csv_val")):
        text = _read_text_field(field, roots, errors, local_name=f"csv_local_{split}")
        if text is None:
            if split == "train" and field not in errors:
                add_error(errors, field, "a CSV of 'path,value,...' lines is required")
            continue
        try:
            table = targets.parse_csv(text, field)
        except ParseError as exc:
            add_error(errors, exc.field, str(exc))
            continue
        if outputs is not None and table.outputs != outputs:
            add_error(errors, field, "its outputs differ from the training CSV's")
        outputs = outputs or table.outputs
        staged[layout.CSV_LISTS[split]] = text
        images += len(table.paths)
    return images


def _check_sources(
    method: str, form: dict, errors: dict, staged: dict, need_classes: bool = True
) -> int:
    """Check what the job will read, now, so the user hears about it where they acted; the
    number of images found."""
    roots = services().settings.data_roots
    if method == "folder":
        images = 0
        for field in ("folder_train", "folder_val", "folder_test"):
            wanted = field == "folder_train" or _flag(form, f"has_{field[7:]}_folder")
            if form.get(field) and wanted:
                need = need_classes and field == "folder_train"
                images += _check_folder(form[field], roots, field, errors, need_classes=need)
        return images
    if method == "textfile":
        return _check_lists(form, roots, errors, staged)
    if method == "upload":
        return _check_upload(request.files.get("upload_archive"), errors, staged)
    if method in PREBUILT_FIELDS:
        _check_prebuilt(form, method, errors)
    return 0


def _check_prebuilt(form: dict, method: str, errors: dict) -> None:
    """The databases a prebuilt method copies: inside the data roots, LMDBs where they should
    be, no larger than a dataset may be. Only their files are looked at here: the web process
    never opens a database someone else wrote (its job does, in a child)."""
    settings = services().settings
    size = 0
    for field in PREBUILT_FIELDS[method]:
        text = str(form.get(field, "") or "").strip()
        if not text:
            continue
        try:
            path = resolve_in_roots(text, settings.data_roots)
        except PathNotAllowed as exc:
            add_error(errors, field, str(exc))
            continue
        if field == "digits_folder":
            if not (path / "labels.txt").is_file():
                add_error(errors, field, f"{text} is not a DIGITS dataset folder (no labels.txt)")
                continue
            databases = [path / f"{s}_db" for s in SPLITS if (path / f"{s}_db").is_dir()]
        elif field == "prebuilt_mean_file":
            if not path.is_file():
                add_error(errors, field, f"{text} is not a file")
            continue
        else:
            databases = [path]
        for database in databases:
            if not (database / "data.mdb").is_file():
                add_error(errors, field, f"{database} is not an LMDB database (no data.mdb)")
                continue
            size += (database / "data.mdb").stat().st_size
    if size > settings.max_dataset_mb * 2**20:
        field = PREBUILT_FIELDS[method][0]
        add_error(errors, field, f"over the {settings.max_dataset_mb} MB a dataset may take")


def _check_size(options, images: int, errors: dict) -> None:
    """A dataset that would outgrow the configured limit or the free disk: refused now."""
    settings = services().settings
    refusal = limits.size_refusal(images, options, settings.max_dataset_mb, settings.jobs_dir)
    if refusal:
        errors.setdefault("resize_width", []).append(refusal + ": choose a smaller image size")


def _flag(form: dict, name: str) -> bool:
    return str(form.get(name, "")).lower() in ("1", "true", "on", "yes", "y")


def _check_folder(text, roots, field, errors, need_classes: bool) -> int:
    """A folder of class folders under the data roots; the number of images in it."""
    try:
        path = folder_in_roots(text, roots, field)
    except ParseError as exc:
        errors.setdefault(field, []).append(str(exc))
        return 0
    classes = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if need_classes and len(classes) < 2:
        errors.setdefault(field, []).append(
            f"{text} has {len(classes)} class folder(s); a classifier needs at least 2 "
            "(one sub-folder of images per class)"
        )
    return sum(len(list_images(folder)) for folder in classes)


MAX_LIST_MB = 32  # a list or CSV the web server reads and checks at submission
MAX_LIST_LINES = 1_000_000


def _read_text_field(name: str, roots, errors, local_name: str | None = None) -> str | None:
    """A list file: uploaded as `name`, or on the server at `local_name` (by default
    `textfile_local_<...>`); refused from its size, before it is read, past MAX_LIST_MB."""
    upload: FileStorage | None = request.files.get(name)
    local_name = local_name or name.replace("textfile_", "textfile_local_", 1)
    if upload and upload.filename:
        field, size = name, upload.seek(0, 2)
        upload.seek(0)
        read = upload.read
    else:
        local = request.form.get(local_name, "").strip()
        if not local:
            return None
        try:
            path = resolve_in_roots(local, roots)
            field, size, read = local_name, path.stat().st_size, path.read_bytes
        except PathNotAllowed as exc:
            errors.setdefault(local_name, []).append(str(exc))
            return None
        except OSError as exc:
            errors.setdefault(local_name, []).append(f"cannot read {local}: {exc.strerror}")
            return None
    if size > MAX_LIST_MB * 1024**2:
        errors.setdefault(field, []).append(
            f"{size / 1024**2:.0f} MB: a list is at most {MAX_LIST_MB} MB (split it, or use "
            "a folder of class folders or a prebuilt database)"
        )
        return None
    try:
        text = read().decode("utf-8", errors="replace")
    except OSError as exc:
        errors.setdefault(field, []).append(f"cannot read it: {exc.strerror}")
        return None
    if text.count("\n") > MAX_LIST_LINES:
        errors.setdefault(field, []).append(f"more than {MAX_LIST_LINES:,} lines")
        return None
    return text


def _check_lists(form: dict, roots, errors: dict, staged: dict) -> int:
    """The label and image lists; the number of images they list."""
    labels_text = _read_text_field("textfile_labels_file", roots, errors)
    if labels_text is None:
        errors.setdefault("textfile_labels_file", []).append("a labels file is required")
        return 0
    try:
        labels = parse_labels_file(labels_text)
    except ParseError as exc:
        errors.setdefault(exc.field, []).append(str(exc))
        return 0
    staged["lists/labels.txt"] = labels_text
    images = 0
    for split in SPLITS:
        if split != "train" and not _flag(form, f"textfile_use_{split}"):
            continue
        field = f"textfile_{split}_images"
        text = _read_text_field(field, roots, errors)
        if text is None:
            errors.setdefault(field, []).append(f"a list of {split} images is required")
            continue
        try:
            entries = parse_list_file(text, field, form.get(f"textfile_{split}_folder", ""), labels)
        except ParseError as exc:
            errors.setdefault(exc.field, []).append(str(exc))
            continue
        staged[f"lists/{split}.txt"] = text
        images += len(entries)
    return images


def _check_upload(upload: FileStorage | None, errors: dict, staged: dict) -> int:
    """The uploaded archive, staged and checked from its headers; its number of files."""
    try:
        staged[layout.UPLOAD_ARCHIVE], files = stage_archive(upload, "upload_archive")
    except FormErrors as exc:
        for field, messages in exc.errors.items():
            errors.setdefault(field, []).extend(messages)
        return 0
    return files


def _move_staged(staged: dict, folder: Path) -> None:
    for relative, content in staged.items():
        if isinstance(content, Path):
            move_staged(content, folder / relative)
        else:
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(content)


def _discard(staged: dict) -> None:
    for content in staged.values():
        if isinstance(content, Path):
            discard_staged(content)


@bp.route("/datasets/<job_id>/append", methods=["POST"])
@bp.route("/datasets/<job_id>/append.json", methods=["POST"])
@login_required
@owner_only
def append(job_id: str):
    """Beyond DIGITS: add images (new ones, or new classes) to a Done dataset (its owner's or
    an admin's)."""
    svc = services()
    original = svc.store.get(job_id)
    if original.kind != "dataset":
        return error_response(
            f"job {job_id} is not a dataset: images are added to datasets", 400, field="job_id"
        )
    request_form = job_parameters(request.form)
    method = request_form.get("method", "folder")
    # The new images take the dataset's own image settings; only where they come from differs.
    form = {**original.parameters, **request_form, "method": method}
    form.pop("appends", None)
    errors: dict[str, list[str]] = {}
    staged: dict[str, object] = {}
    try:
        options = parse_options(form)
    except FormErrors as exc:
        errors = exc.errors
    if method not in ("folder", "upload"):
        errors = {"method": ["add images from a folder or an uploaded archive"]}
    if not errors:
        images = _check_sources(method, form, errors, staged, need_classes=False)
        if not errors:
            _check_size(options, images, errors)
    if errors:
        _discard(staged)
        return error_response(
            " ".join(m for ms in errors.values() for m in ms), 400, field=next(iter(errors))
        )
    upload = request.files.get("upload_archive")
    if upload and upload.filename:
        request_form["upload_archive"] = upload.filename

    def add_request(job) -> None:
        appends = job.parameters.setdefault("appends", [])
        folder = svc.store.folder(job_id) / layout.append_folder(len(appends))
        _move_staged({"archive": staged[layout.UPLOAD_ARCHIVE]} if staged else {}, folder)
        appends.append(request_form)

    try:
        svc.control.rerun(job_id, add_request, "adding images")
    except JobNotDone as exc:
        _discard(staged)
        return error_response(str(exc), 400, field="job_id")
    if wants_json():
        return jsonify(svc.detail(svc.store.get(job_id)))
    return redirect(url_for("jobs.show_datasets", job_id=job_id))


@bp.route("/datasets/<job_id>/mean.png")
def mean_image(job_id: str):
    path = services().store.folder(job_id) / layout.MEAN_PNG
    if not path.exists():
        return error_response("this dataset has no mean image yet", 404)
    return send_file(path, mimetype="image/png")


@bp.route("/datasets/images/classification/explore")
@bp.route("/datasets/images/classification/explore.json", endpoint="explore_json")
def explore():
    svc = services()
    job_id = request.args.get("job_id", "")
    job = svc.store.get(job_id)
    info = read_info(svc.store.folder(job_id))
    db = request.args.get("db", "train")
    if info is None or db not in info.splits:
        return error_response(f"dataset {job_id} has no {db} database", 404, field="db")
    page = max(0, _int_arg("page", 0))
    size = min(200, max(1, _int_arg("size", EXPLORE_PAGE_SIZE)))
    label = request.args.get("label", "")
    label_index = info.labels.index(label) if label in info.labels else None
    path = svc.store.folder(job_id) / layout.database(db)
    records, total = browse(path, page * size, size, label_index)
    view = tasks.of_dataset(info).record_view(info, svc.store.folder(job_id), db)
    items = [
        {
            "key": key,
            "label": view.caption(record_label),
            # Each image its own request: a page of large images is never held at once.
            "src": url_for("datasets.record_image", job_id=job.id, db=db, key=key),
        }
        for key, record_label in records
    ]
    if wants_json():
        listed = [
            {"key": item["key"], "label": item["label"], **view.details(record_label)}
            for item, (_, record_label) in zip(items, records, strict=True)
        ]
        return jsonify({"total": total, "page": page, "size": size, "items": listed})
    return render_template(
        "datasets/explore.html",
        job=job,
        info=info,
        db=db,
        items=items,
        page=page,
        size=size,
        total=total,
        label=label,
    )


@bp.route("/datasets/<job_id>/records/<db>/<key>.png")
def record_image(job_id: str, db: str, key: str):
    """One image of a dataset's database, as Explore shows it (PNG)."""
    svc = services()
    info = read_info(svc.store.folder(svc.store.get(job_id).id))
    if info is None or db not in info.splits or not (is_whole_number(key) and len(key) == 10):
        return error_response(f"no image {key} in the {db} database", 404, field="key")
    record = read_record(svc.store.folder(job_id) / layout.database(db), key)
    if record is None:
        return error_response(f"no image {key} in the {db} database", 404, field="key")
    response = Response(record.png(), mimetype="image/png")
    response.cache_control.private, response.cache_control.max_age = True, 3600
    return response


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default


@bp.route("/datasets/images/resize-example", methods=["POST"])
@bp.route("/datasets/images/resize-example.json", methods=["POST"], endpoint="resize_example_json")
@login_required
def resize_example():
    """How each resize mode treats one of the user's images ("See example")."""
    errors: dict[str, list[str]] = {}
    try:
        options = parse_image_settings(request.form.to_dict())
    except FormErrors as exc:
        return json_errors(exc.errors)
    upload = request.files.get("image_file")
    settings = services().settings
    try:
        if upload and upload.filename:
            source = upload.read()
        else:
            source = resolve_in_roots(request.form.get("image_path", ""), settings.data_roots)
        image = images.load_image(
            source,
            options.channels,
            max_pixels=settings.max_image_pixels,
            max_bytes=images.WEB_MAX_DECODED_BYTES,
        )
    except PathNotAllowed as exc:
        errors["image_path"] = [str(exc)]
    except images.BadImage as exc:
        errors["image_file"] = [f"not an image we can read: {exc}"]
    if errors:
        return json_errors(errors)
    examples = {}
    for mode in images.RESIZE_MODES:
        pixels = images.resize_image(
            image, options.width, options.height, mode, np.random.default_rng(0)
        )
        examples[mode] = (
            "data:image/png;base64," + base64.b64encode(images.encode_png(pixels)).decode()
        )
    return jsonify({"examples": examples})
