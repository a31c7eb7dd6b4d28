"""Model routes: the New Model form and its API, sweeps and searches, Visualize, Customize, the
LR preview."""

from __future__ import annotations

import itertools

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from digits import tasks
from digits.datasets.layout import DatasetInfo, read_info
from digits.files import read_regular
from digits.forms import (
    GROUP_FIELD,
    FormErrors,
    add_error,
    field_error,
    group_field,
    int_field,
    is_whole_number,
    optional_int_field,
    text_field,
)
from digits.jobs.heartbeats import gpu_hosts
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound
from digits.models import catalog
from digits.models.fields import FIELDS, LR_STEPS, METHODS
from digits.models.imported_job import IMPORTED_MODEL_TYPE
from digits.models.importing import network_input
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
from digits.models.options import parse_training_options, split_list
from digits.models.published import IMAGENET, IMAGENET_FILES, IMAGENET_NORMALIZATION
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
SWEEP_FIELDS = ("learning_rate", "batch_size")
MAX_SWEEP = 20


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
        "datasets": [j for j in jobs if _dataset_for(j.type, model_type)],
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
        form[BATCH_FOR_GPUS] = str(_gpus_asked(asked))  # the form's batch is theirs all
    for field in SWEEP_FIELDS:  # a sweep's lists: the test takes the first (it sets the rates)
        form[field] = (split_list(str(form.get(field, ""))) or [form.get(field, "")])[0]
    generic = _generic_dataset(text_field(form, "dataset"))
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
    generic = _generic_dataset(text_field(form, "dataset"))
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


def _gpus_asked(form: dict) -> int:
    """How many GPUs (or CPU ranks) the form's model would train on: the batch is theirs."""
    chosen = split_list(str(form.get("select_gpus", "") or ""))
    count = str(form.get("select_gpu_count", "") or "")
    return len(chosen) or (int(count) if is_whole_number(count) and int(count) > 0 else 1)


def _generic_dataset(dataset_id: str) -> bool:
    """Whether the dataset's models use DIGITS' generic routes (its task's)."""
    try:
        task = tasks.of_dataset_type(services().store.get(dataset_id).type)
    except JobNotFound:
        return False
    return bool(task and task.generic)


def _create(job_type):
    generic = job_type is IMAGE_GENERIC_MODEL
    form = _submitted_form()
    combinations, errors = _sweep(form)
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
    pretrained network needs (_fit_to_pretrained)."""
    form = job_parameters(request.form)
    if request.form.getlist("select_gpus"):
        form["select_gpus"] = ",".join(request.form.getlist("select_gpus"))
    _fit_to_pretrained(form)
    return form


def _fit_to_pretrained(form: dict) -> None:
    """Starting from ImageNet weights or an imported network: its input normalization, unless
    the form gives one, and its input where the dataset's images differ (grayscale repeated to
    colour, resized to a network of fixed size). Written into the job's parameters, so that
    training and classifying read the same."""
    declared = _pretrained_input(form)
    if declared is None:
        return
    if not form.get("normalize_mean") and declared.get("normalize_mean"):
        form["normalize_mean"] = ",".join(map(str, declared["normalize_mean"]))
        form["normalize_std"] = ",".join(map(str, declared["normalize_std"]))
        form["use_mean"] = "none"
    try:
        dataset = read_info(services().store.folder(str(form.get("dataset", ""))))
    except JobNotFound:
        dataset = None  # the check says so
    if dataset is None:
        return
    if dataset.image.channels == 1 and declared["channels"] == 3:
        form["network_channels"] = "3"
    size = declared.get("size")
    crop = optional_int_field(form, "crop_size", {}, 1, 4096)
    stored = (crop, crop) if crop else (dataset.image.height, dataset.image.width)
    if size and tuple(size) != stored:
        form["network_height"], form["network_width"] = map(str, size)


def _pretrained_input(form: dict) -> dict | None:
    """What the pretrained network starts from expects: channels, size (None: any) and
    normalization; None when training starts from scratch or from a model trained here."""
    if form.get("method", "standard") == "standard" and form.get("pretrained_weights") == IMAGENET:
        mean, std = IMAGENET_NORMALIZATION
        return {"channels": 3, "size": None, "normalize_mean": mean, "normalize_std": std}
    if form.get("method") != "pretrained":
        return None
    try:
        declared = imported_info(services().store.folder(str(form.get("pretrained_networks"))))
    except JobNotFound:
        return None
    if declared is None:
        return None
    channels, height, width = network_input(declared)
    return declared | {"channels": channels, "size": (height, width)}


def _sweep(form: dict) -> tuple[list[dict], dict]:
    """One set of parameters per combination of the comma-separated sweep fields."""
    errors: dict = {}
    lists = {f: split_list(str(form.get(f, ""))) or [str(form.get(f, ""))] for f in SWEEP_FIELDS}
    combos = list(itertools.product(*(lists[f] for f in SWEEP_FIELDS)))
    if len(combos) > MAX_SWEEP:
        add_error(errors, "learning_rate", f"a sweep makes at most {MAX_SWEEP} jobs")
        return [], errors
    result = []
    for values in combos:
        combination = {**form, **dict(zip(SWEEP_FIELDS, values, strict=True))}
        if len(combos) > 1:
            tags = ", ".join(
                f"{f.replace('_', ' ')} {v}"
                for f, v in zip(SWEEP_FIELDS, values, strict=True)
                if len(lists[f]) > 1
            )
            combination["model_name"] = f"{form.get('model_name', '')} ({tags})"
            # A sweep's jobs are filed together, under its name unless the person named a group.
            combination[GROUP_FIELD] = form.get(GROUP_FIELD) or form.get("model_name", "")
        result.append(combination)
    return result, errors


def _check(form: dict, generic: bool, check_fit: bool = True) -> dict:
    """Everything that can be known before training, all reported at once: fields, dataset,
    crop against the dataset's images, network, GPUs."""
    try:
        options, errors = parse_training_options(form), {}
    except FormErrors as exc:
        options, errors = None, dict(exc.errors)
    info = _check_dataset(text_field(form, "dataset"), errors, generic)
    crop = optional_int_field(form, "crop_size", {}, 1, 4096)  # its own error comes from above
    if info is not None and crop and crop > min(info.image.height, info.image.width):
        size = f"{info.image.width}x{info.image.height}"
        add_error(errors, "crop_size", f"larger than the dataset's {size} images")
    if options is None:
        return errors
    if options.probe_records and info is not None:
        _check_probes(options.probe_records, info, errors)
    if options.starts_from:
        _check_start(options, info, errors)
    _check_gpus(options, errors)
    if info is not None and options.method in ("custom", "standard") and check_fit and not errors:
        _check_fit(options, info, errors)
    return errors


def _check_probes(records: tuple[int, ...], info: DatasetInfo, errors: dict) -> None:
    """Probe images picked by number: the dataset's validation set has each of them."""
    count = info.splits["val"].entries if "val" in info.splits else 0
    if not count:
        add_error(errors, "probe_records", "the dataset has no validation images to follow")
    elif max(records) >= count:
        add_error(errors, "probe_records", f"the validation images are numbered 0 to {count - 1}")


def _check_start(options, info: DatasetInfo | None, errors: dict) -> None:
    """The model to fine-tune from: one with a snapshot, reading images like the dataset's."""
    field = f"{options.method}_networks"
    try:
        folder = services().store.folder(options.starts_from)
    except JobNotFound:
        add_error(errors, field, f"no model {options.starts_from}")
        return
    epochs = list_snapshots(folder)
    if not epochs:
        add_error(errors, field, "that model has no snapshot to start from")
        return
    if options.previous_epoch and options.previous_epoch not in epochs:
        have = ", ".join(f"{e:g}" for e in epochs)
        add_error(errors, "previous_epoch", f"that model has snapshots of epochs {have}")
    declared = imported_info(folder)
    channels = network_input(declared)[0] if declared else None
    if channels and info is not None and channels < info.image.channels:
        add_error(
            errors,
            field,
            f"that network reads {channels}-channel images; the dataset's have "
            f"{info.image.channels}: build the dataset with {channels}",
        )


def _check_dataset(dataset_id: str, errors: dict, generic: bool) -> DatasetInfo | None:
    """The chosen dataset's info (None before it is Done); what is wrong with it, in `errors`."""
    if not dataset_id:
        return None  # the options parser asks for one
    try:
        dataset = services().store.get(dataset_id)
    except JobNotFound:
        add_error(errors, "dataset", f"no dataset {dataset_id}")
        return None
    if dataset.kind != "dataset":
        add_error(errors, "dataset", f"job {dataset_id} is not a dataset")
        return None
    model_type = tasks.GENERIC_MODEL_TYPE if generic else tasks.CLASSIFICATION_MODEL_TYPE
    if not _dataset_for(dataset.type, model_type):
        wanted = "a generic (Other)" if generic else "an image classification"
        add_error(errors, "dataset", f"{dataset.name} is not {wanted} dataset")
        return None
    if dataset.status in (Status.ABORT, Status.ERROR):
        add_error(errors, "dataset", f"dataset {dataset.name} ended {dataset.status.label}")
        return None
    return read_info(services().store.folder(dataset.id))


def _dataset_for(dataset_type: str, model_type: str) -> bool:
    """Whether datasets of that job type are for models of that type (their task's)."""
    task = tasks.of_dataset_type(dataset_type)
    return task is not None and task.model_type == model_type


BY_COUNT = "GPUs by index are one host's: name them host:index to train across hosts"


def _gpu_label(gpu: dict) -> str:
    return (
        " · ".join(filter(None, [f"GPU {gpu['index']}", gpu.get("name")])) + f" ({_gpu_state(gpu)})"
    )


def _gpu_state(gpu: dict) -> str:
    holder = gpu.get("held_by")
    return f"held by {holder.get('name', 'a job')}" if holder else "free"


def _check_gpus(options, errors: dict) -> None:
    """GPUs that the live hosts can give: by index on one host, or a count no larger than
    they have together (more than one host has: the job trains across hosts)."""
    hosts = gpu_hosts(services().live_workers())
    if options.host_gpus:
        missing = [f"{h}:{i}" for h, i in options.host_gpus if i not in hosts.get(h, set())]
        if missing:
            add_error(errors, "select_gpus", f"no worker offers GPU {', '.join(missing)}")
    elif options.gpus:
        offered = set().union(*hosts.values())
        missing = [g for g in options.gpus if g not in offered]
        if missing:
            add_error(errors, "select_gpus", f"no worker offers GPU {', '.join(map(str, missing))}")
        elif not any(set(options.gpus) <= gpus for gpus in hosts.values()):
            add_error(errors, "select_gpus", f"no one host has all of these GPUs ({BY_COUNT})")
    elif hosts and options.gpu_count > (total := sum(len(g) for g in hosts.values())):
        add_error(
            errors,
            "select_gpu_count",
            f"{options.gpu_count} GPUs asked for, but the live hosts have {total} together",
        )


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
