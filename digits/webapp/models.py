"""Model routes: the New Model form and its API, sweeps and searches, Visualize, Customize, the
LR preview."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from digits import tasks
from digits.datasets.layout import DatasetInfo, read_info
from digits.files import read_regular
from digits.forms import (
    FormErrors,
    add_error,
    field_error,
    group_field,
    int_field,
    optional_int_field,
    text_field,
)
from digits.jobs.heartbeats import gpu_hosts
from digits.jobs.store import JobNotFound
from digits.models import catalog, submission
from digits.models.fields import FIELDS, LR_STEPS, METHODS
from digits.models.imported_job import IMPORTED_MODEL_TYPE
from digits.models.job_parameters import options_of
from digits.models.job_type import (
    BATCH_FINDER,
    BATCH_FOR_GPUS,
    IMAGE_CLASSIFICATION_MODEL,
    IMAGE_GENERIC_MODEL,
    LR_RANGE_TEST,
)
from digits.models.layout import (
    IMPORTED_FOLDER,
    IMPORTED_NETWORK,
    imported_info,
    list_snapshots,
)
from digits.models.lr_policy import curve
from digits.models.network_check import CHECK_NETWORK_REQUEST
from digits.models.options import split_list
from digits.models.published import IMAGENET_FILES
from digits.models.search_job import MODEL_SEARCH
from digits.models.search_space import (
    PRUNERS,
    SAMPLERS,
    SPACE_FIELD,
    check_search_plan,
    fit_variants,
)
from digits.webapp.auth import current_user, login_required
from digits.webapp.hardware import hosts_report
from digits.webapp.http import job_parameters, json_errors, wants_json
from digits.webapp.jobs import clone_values
from digits.webapp.services import services
from digits.webapp.worker_requests import ask_worker, infer_worker_running

bp = Blueprint("models", __name__)


# What a link may set on the New Model forms besides a Clone's values.
FORM_ARGUMENTS = ("method", "pretrained_networks", "learning_rate", "batch_size")


@bp.route("/models/images/classification/new")
@login_required
def new_classification():
    return _new_form(generic=False)


def _new_form(generic: bool) -> str:
    """A New Model form, as a Clone's values or empty; "Fine-tune it" on a model's page opens
    it with that model chosen, a range test's or batch search's page with what it proposes."""
    values = clone_values("model_name")
    values |= {k: request.args[k] for k in FORM_ARGUMENTS if k in request.args}
    return _form_page(values, {}, generic)


def _form_page(values: dict, errors: dict, generic: bool) -> str:
    return render_template(
        "models/new.html", values=values, errors=errors, **_form_choices(generic)
    )


def _form_choices(generic: bool = False) -> dict:
    store = services().store
    jobs = store.list()
    model_type = tasks.GENERIC_MODEL_TYPE if generic else tasks.CLASSIFICATION_MODEL_TYPE
    gpus = _gpu_choices(services().live_workers())
    usable = [
        j
        for j in jobs
        if j.kind == "model"
        and j.type != "image-classification-inference"
        and list_snapshots(store.folder(j.id))
    ]
    return {
        "declared_fields": FIELDS,  # each field's title, default and choices
        "lr_steps": LR_STEPS,
        "choices": {
            "methods": METHODS,
            "search_samplers": SAMPLERS,
            "search_pruners": PRUNERS,
        },
        "generic": generic,
        "datasets": [j for j in jobs if submission.dataset_for(j.type, model_type)],
        "previous": usable,
        # Imported models first: they are what the Pretrained tab is for.
        "pretrained": sorted(usable, key=lambda j: j.type != IMPORTED_MODEL_TYPE),
        "networks": [(name, catalog.title(name)) for name in catalog.names()],
        "published": list(IMAGENET_FILES),
        "gpus": gpus,
    }


def _gpu_choices(workers: list[dict]) -> list[tuple[int | str, str]]:
    """(value, label) for each GPU: by index on one host ("GPU 1 · NVIDIA H100 (free on a)"),
    by host:index on several ("a:1", "a · GPU 1 · NVIDIA H100 (free)"), so that a person
    chooses GPUs of one host or across hosts."""
    report = hosts_report(workers)
    if len(report) > 1:
        return [
            (f"{host['node']}:{gpu['index']}", f"{host['node']} · {_gpu_label(gpu)}")
            for host in report
            for gpu in host["gpus"]
        ]
    seen: dict[int, list[str]] = {}
    names: dict[int, str] = {}
    for host in report:
        for gpu in host["gpus"]:
            seen.setdefault(gpu["index"], []).append(f"{_gpu_state(gpu)} on {host['node']}")
            names[gpu["index"]] = gpu.get("name", "")
    for index in {g for w in workers for g in w.get("gpus", [])} - set(seen):
        seen[index] = []  # offered, figures not in yet
    return [
        (
            index,
            " · ".join(filter(None, [f"GPU {index}", names.get(index)]))
            + (f" ({', '.join(seen[index])})" if seen[index] else ""),
        )
        for index in sorted(seen)
    ]


@bp.route("/models/images/generic/new")
@login_required
def new_generic():
    return _new_form(generic=True)


@bp.route("/models/images/classification", methods=["POST"])
@bp.route("/models/images/classification.json", methods=["POST"], endpoint="create_json")
@login_required
def create_classification():
    return _create(IMAGE_CLASSIFICATION_MODEL)


@bp.route("/models/images/generic", methods=["POST"])
@bp.route("/models/images/generic.json", methods=["POST"], endpoint="create_generic_json")
@login_required
def create_generic():
    """DIGITS' generic ("Other") model: the classification form's fields, plus `loss` (l2, l1,
    huber), on a generic dataset; as many outputs as the dataset has values."""
    return _create(IMAGE_GENERIC_MODEL)


@bp.route("/models/lr-range-test", methods=["POST"])
@bp.route("/models/lr-range-test.json", methods=["POST"], endpoint="range_test_json")
@login_required
def range_test():
    """A learning-rate range test of the New Model form's network on its dataset (either form):
    `lr_min`, `lr_max` (1e-7 to 10) over `lr_steps` (100) steps; its page proposes a rate."""
    return _settings_finder(LR_RANGE_TEST, {"find_lr": "1"}, "Range test")


@bp.route("/models/batch-finder", methods=["POST"])
@bp.route("/models/batch-finder.json", methods=["POST"], endpoint="batch_finder_json")
@login_required
def batch_finder():
    """The largest batch of the New Model form's network on its dataset's images that fits one
    GPU (or, without GPUs, the host's memory); its page proposes a batch size."""
    return _settings_finder(BATCH_FINDER, {"find_batch": "1", "select_gpu_count": "1"}, "Batch")


def _settings_finder(job_type, marks: dict, title: str):
    """A short job that finds a setting for the New Model form, from the form's fields."""
    asked = job_parameters(request.form)
    form = {k: v for k, v in asked.items() if k not in marks} | marks
    if "find_batch" in marks:  # one GPU, any free one: the proposal is per GPU
        form.pop("select_gpus", None)
        form[BATCH_FOR_GPUS] = str(submission.gpus_asked(asked))  # the form's batch is theirs all
    for (
        field
    ) in submission.SWEEP_FIELDS:  # a sweep's lists: the test takes the first (it sets the rates)
        form[field] = (split_list(str(form.get(field, ""))) or [form.get(field, "")])[0]
    generic = submission.generic_dataset(text_field(form, "dataset"), services().store)
    errors = _check(form, generic, check_fit=True)
    if errors:
        return _refused(form, errors, generic)
    name = f"{title}: {form.get('model_name') or form.get('standard_networks') or 'network'}"
    job = services().control.submit(job_type, name, current_user(), form)
    if wants_json():
        return jsonify(services().detail(job))
    return redirect(url_for("jobs.show_models", job_id=job.id))


@bp.route("/models/search", methods=["POST"])
@bp.route("/models/search.json", methods=["POST"], endpoint="search_json")
@login_required
def search():
    """A hyperparameter search over the New Model form's fields: `search_space` (one field a
    line: `learning_rate: 0.0001 .. 0.1`, `batch_size: 16, 32, 64`), `search_trials`,
    `search_parallel`, `search_sampler` (tpe, random), `search_pruner` (median, halving,
    none), `search_seed`. Each trial is a model job, filed with the search under its group."""
    form = _submitted_form()
    generic = submission.generic_dataset(text_field(form, "dataset"), services().store)
    model_type = IMAGE_GENERIC_MODEL if generic else IMAGE_CLASSIFICATION_MODEL
    plan, errors = check_search_plan(form, model_type.name)
    for field, messages in _check_trials(plan, generic, check_fit=not errors).items():
        for message in messages:
            add_error(errors, field, message)
    if errors:
        return _refused(form, errors, generic)
    # The form's own values of the searched fields are the first trial's low ends: what the
    # search's Parameters table shows, and what its dataset check read.
    parameters = form | fit_variants(plan)[0] | {"search_model_type": model_type.name}
    name = str(form.get("model_name", ""))
    group = group_field(form, {}) or name
    job = services().control.submit(
        MODEL_SEARCH, f"Search: {name}", current_user(), parameters, group=group
    )
    if wants_json():
        return jsonify(services().detail(job))
    return redirect(url_for("jobs.show_models", job_id=job.id))


def _check_trials(plan, generic: bool, check_fit: bool) -> dict:
    """The checks of a model on the trials' forms that differ in what decides the network's
    fit (each network listed, each end of a crop range). A complaint about a searched field
    is the space's."""
    errors: dict = {}
    for values in fit_variants(plan):
        for field, messages in _check(plan.trial_form(values), generic, check_fit).items():
            for message in messages:
                if field in values:
                    field, message = SPACE_FIELD, f"{field} = {values[field]}: {message}"
                if message not in errors.get(field, []):
                    add_error(errors, field, message)
    return errors


def _refused(form: dict, errors: dict, generic: bool):
    """A 400 naming each field: JSON for the API, the form again with the messages for a
    browser."""
    if wants_json():
        return json_errors(errors)
    return _form_page(form, errors, generic), 400


def _create(job_type):
    generic = job_type is IMAGE_GENERIC_MODEL
    form = _submitted_form()
    combinations, errors = submission.sweep(form)
    for index, combination in enumerate(combinations):
        # A sweep varies only the learning rate and batch size: one fit check is enough.
        errors.update(_check(combination, generic, check_fit=index == 0))
    if errors:
        return _refused(form, errors, generic)
    jobs = []
    for combination in combinations:
        name, group = combination["model_name"], group_field(combination, {})
        jobs.append(
            services().control.submit(job_type, name, current_user(), combination, group=group)
        )
    if wants_json():  # DIGITS answered with the whole job, as /models/<id>.json has it
        listed = [{"id": j.id, "name": j.name, "status": j.status.label} for j in jobs]
        first = services().detail(jobs[0])
        return jsonify(first | ({"jobs": listed} if len(listed) > 1 else {}))
    if len(jobs) > 1:
        return redirect(url_for("home.index"))
    return redirect(url_for("jobs.show_models", job_id=jobs[0].id))


def _submitted_form() -> dict:
    """The New Model form as submitted: its GPUs (a multiple choice) as one list, and what a
    pretrained network needs (submission.fit_to_pretrained)."""
    form = job_parameters(request.form)
    if request.form.getlist("select_gpus"):
        form["select_gpus"] = ",".join(request.form.getlist("select_gpus"))
    submission.fit_to_pretrained(form, services().store)
    return form


def _check(form: dict, generic: bool, check_fit: bool = True) -> dict:
    """What the domain refuses of the form (digits.models.submission), then, when all else is
    well, the network's fit, which a worker tries."""
    svc = services()
    hosts = gpu_hosts(svc.live_workers())
    options, info, errors = submission.check(form, generic, svc.store, hosts)
    if options is None or info is None or errors or not check_fit:
        return errors
    if options.method in ("custom", "standard"):
        _check_fit(options, info, errors)
    return errors


def _gpu_label(gpu: dict) -> str:
    return (
        " · ".join(filter(None, [f"GPU {gpu['index']}", gpu.get("name")])) + f" ({_gpu_state(gpu)})"
    )


def _gpu_state(gpu: dict) -> str:
    holder = gpu.get("held_by")
    return f"held by {holder.get('name', 'a job')}" if holder else "free"


def _check_fit(options, info: DatasetInfo, errors: dict) -> None:
    """Build the network for the dataset's images and try it, before any job exists.

    A worker of queue infer tries it (custom code in a child with limits). With no such
    worker the model is taken unchecked: its training tries it again and fails the same way.
    """
    if not infer_worker_running():
        return
    crop = options.crop_size
    height, width = (crop, crop) if crop else (info.image.height, info.image.width)
    field = "custom_network" if options.method == "custom" else "standard_networks"
    answer = _try_network(
        options.method,
        options.network,
        options.custom_network,
        field,
        (len(tasks.of_dataset(info).labels_of(info)), info.image.channels, height, width),
        summary=False,
    )
    if "error" in answer:
        where = f"line {answer['line']}: " if answer.get("line") else ""
        add_error(errors, field, where + answer["error"])


def _try_network(method, network, code, field, shape, summary: bool) -> dict:
    """A worker's try of the network: {"summary": ...} or {"error", "line"}."""
    num_classes, channels, height, width = shape
    payload = {
        "method": method,
        "network": network,
        "custom_network": code,
        "num_classes": num_classes,
        "channels": channels,
        "height": height,
        "width": width,
        "summary": summary,
    }
    return ask_worker(CHECK_NETWORK_REQUEST, payload, {}, field)


@bp.route("/models/visualize-network", methods=["POST"])
@bp.route("/models/visualize-network.json", methods=["POST"], endpoint="visualize_network_json")
@login_required
def visualize_network():
    """Each layer's output shape and parameter count, or the error and its line."""
    form = request.form
    if form.get("job_id"):  # an imported model: its own code, classes and input
        form = _imported_network(form["job_id"])
    shape = _shape_from(form)
    code = form.get("custom_network", "")
    field = "custom_network" if code else "standard_networks"
    name = form.get("standard_networks", "lenet")
    if not code and name not in catalog.names():
        return json_errors({field: [f"one of {', '.join(catalog.names())}"]})
    method = "custom" if code else "standard"
    answer = _try_network(method, name, code, field, shape, summary=True)
    if "error" in answer:
        return jsonify({"errors": {field: [answer["error"]]}, "line": answer["line"]}), 400
    return jsonify(answer["summary"])


def _imported_network(job_id: str) -> dict:
    """An imported model as Visualize's fields (its network code is the user's: a worker
    tries it within the limits, as any custom network)."""
    folder = services().store.folder(job_id)
    declared = imported_info(folder)
    if declared is None:
        raise field_error("job_id", f"job {job_id} is not an imported model")
    crop = declared.get("crop_size")
    return {
        "custom_network": read_regular(folder / IMPORTED_FOLDER / IMPORTED_NETWORK).decode(
            errors="replace"
        ),
        "num_classes": str(len(declared["labels"])),
        "channels": str(declared["channels"]),
        "height": str(crop or declared["height"]),
        "width": str(crop or declared["width"]),
    }


VISUALIZE_MAX_SIDE = 1024  # pixels: ResNet-50 at 2048x2048 took 7.7 GB and minutes


def _shape_from(form) -> tuple[int, int, int, int]:
    """Classes and image size from the chosen dataset, else from the form, else LeNet's; a
    number that is not one, or an image larger than Visualize draws, is a 400 naming it."""
    info = None
    if form.get("dataset"):
        try:
            info = read_info(services().store.folder(form["dataset"]))
        except JobNotFound:
            info = None
    errors: dict[str, list[str]] = {}
    if info:
        image = info.image
        crop = optional_int_field(form, "crop_size", errors, 1, VISUALIZE_MAX_SIDE)
        shape = len(info.labels), image.channels, crop or image.height, crop or image.width
    else:
        shape = (
            int_field(form, "num_classes", 10, errors, 1, 100_000),
            int_field(form, "channels", 1, errors, 1, 4),
            int_field(form, "height", 28, errors, 1, VISUALIZE_MAX_SIDE),
            int_field(form, "width", 28, errors, 1, VISUALIZE_MAX_SIDE),
        )
    if max(shape[2:]) > VISUALIZE_MAX_SIDE:
        add_error(errors, "crop_size", f"Visualize draws images up to {VISUALIZE_MAX_SIDE}px")
    if errors:
        raise FormErrors(errors)
    return shape


@bp.route("/models/customize", methods=["POST"])
@bp.route("/models/customize.json", methods=["POST"], endpoint="customize_json")
def customize():
    """DIGITS' Customize: a standard network's (or an earlier model's) code, to edit."""
    name = request.form.get("network", "")
    if name in catalog.names():
        return jsonify({"network": catalog.standalone_source(name)})
    try:
        job = services().store.get(name)
    except JobNotFound:
        return json_errors({"network": [f"no standard network or model called {name!r}"]})
    options = options_of(job) if job.type == IMAGE_CLASSIFICATION_MODEL.name else None
    if options is None:
        return json_errors({"network": [f"job {name} is not a model this version can read"]})
    if options.method == "custom":
        return jsonify({"network": options.custom_network})
    return jsonify({"network": catalog.standalone_source(options.network)})


@bp.route("/models/visualize-lr", methods=["POST"])
@bp.route("/models/visualize-lr.json", methods=["POST"], endpoint="visualize_lr_json")
def visualize_lr():
    from digits.models.options import parse_lr_policy

    errors: dict = {}
    policy = parse_lr_policy(request.form, errors)
    try:
        base = float(request.form.get("learning_rate", "0.01").split(",")[0])
    except ValueError:
        add_error(errors, "learning_rate", "a number above 0")
        base = 0.01
    if errors:
        return json_errors(errors)
    xs, ys = curve(policy, base)
    return jsonify({"x": xs, "y": ys})
