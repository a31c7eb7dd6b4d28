"""A New Model form before any job exists: what can be known and refused at submission (the
dataset, the crop against its images, probe images, the model to start from, the GPUs the live
hosts offer), a sweep's combinations, and what a pretrained network brings to the form. The
web calls it; the fit of the network, which a worker tries, is the web's to ask."""

from __future__ import annotations

import itertools

from digits import tasks
from digits.datasets.layout import DatasetInfo, read_info
from digits.forms import GROUP_FIELD, FormErrors, add_error, is_whole_number, text_field
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound, JobStore
from digits.models.fields import FIELDS
from digits.models.importing import network_input
from digits.models.layout import imported_info, list_snapshots
from digits.models.options import TrainingOptions, parse_training_options, split_list
from digits.models.published import IMAGENET, IMAGENET_NORMALIZATION

SWEEP_FIELDS = ("learning_rate", "batch_size")
MAX_SWEEP = 20
BY_COUNT = "GPUs by index are one host's: name them host:index to train across hosts"


def check(
    form: dict, generic: bool, store: JobStore, hosts: dict[str, set[int]]
) -> tuple[TrainingOptions | None, DatasetInfo | None, dict]:
    """Everything that can be known before training, all reported at once: the fields, the
    dataset, the crop against its images, probe images, the model to start from, the GPUs.
    The options (None where a field is refused), the dataset's info, the errors."""
    try:
        options, errors = parse_training_options(form), {}
    except FormErrors as exc:
        options, errors = None, dict(exc.errors)
    info = check_dataset(text_field(form, "dataset"), errors, generic, store)
    crop = FIELDS["crop_size"].parse(form, {})  # its own error comes from the parser
    if info is not None and crop and crop > min(info.image.height, info.image.width):
        size = f"{info.image.width}x{info.image.height}"
        add_error(errors, "crop_size", f"larger than the dataset's {size} images")
    if options is None:
        return None, info, errors
    if options.probe_records and info is not None:
        check_probes(options.probe_records, info, errors)
    if options.starts_from:
        check_start(options, info, errors, store)
    check_gpus(options, errors, hosts)
    return options, info, errors


def gpus_asked(form: dict) -> int:
    """How many GPUs (or CPU ranks) the form's model would train on: the batch is theirs."""
    chosen = split_list(str(form.get("select_gpus", "") or ""))
    count = str(form.get("select_gpu_count", "") or "")
    return len(chosen) or (int(count) if is_whole_number(count) and int(count) > 0 else 1)


def fit_to_pretrained(form: dict, store: JobStore) -> None:
    """Starting from ImageNet weights or an imported network: its input normalization, unless
    the form gives one, and its input where the dataset's images differ (grayscale repeated to
    colour, resized to a network of fixed size). Written into the job's parameters, so that
    training and classifying read the same."""
    declared = pretrained_input(form, store)
    if declared is None:
        return
    if not form.get("normalize_mean") and declared.get("normalize_mean"):
        form["normalize_mean"] = ",".join(map(str, declared["normalize_mean"]))
        form["normalize_std"] = ",".join(map(str, declared["normalize_std"]))
        form["use_mean"] = "none"
    try:
        dataset = read_info(store.folder(str(form.get("dataset", ""))))
    except JobNotFound:
        dataset = None  # the check says so
    if dataset is None:
        return
    if dataset.image.channels == 1 and declared["channels"] == 3:
        form["network_channels"] = "3"
    size = declared.get("size")
    crop = FIELDS["crop_size"].parse(form, {})
    stored = (crop, crop) if crop else (dataset.image.height, dataset.image.width)
    if size and tuple(size) != stored:
        form["network_height"], form["network_width"] = map(str, size)


def pretrained_input(form: dict, store: JobStore) -> dict | None:
    """What the pretrained network starts from expects: channels, size (None: any) and
    normalization; None when training starts from scratch or from a model trained here."""
    if form.get("method", "standard") == "standard" and form.get("pretrained_weights") == IMAGENET:
        mean, std = IMAGENET_NORMALIZATION
        return {"channels": 3, "size": None, "normalize_mean": mean, "normalize_std": std}
    if form.get("method") != "pretrained":
        return None
    try:
        declared = imported_info(store.folder(str(form.get("pretrained_networks"))))
    except JobNotFound:
        return None
    if declared is None:
        return None
    channels, height, width = network_input(declared)
    return declared | {"channels": channels, "size": (height, width)}


def sweep(form: dict) -> tuple[list[dict], dict]:
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


def check_probes(records: tuple[int, ...], info: DatasetInfo, errors: dict) -> None:
    """Probe images picked by number: the dataset's validation set has each of them."""
    count = info.splits["val"].entries if "val" in info.splits else 0
    if not count:
        add_error(errors, "probe_records", "the dataset has no validation images to follow")
    elif max(records) >= count:
        add_error(errors, "probe_records", f"the validation images are numbered 0 to {count - 1}")


def check_start(options, info: DatasetInfo | None, errors: dict, store: JobStore) -> None:
    """The model to fine-tune from: one with a snapshot, reading images like the dataset's."""
    field = f"{options.method}_networks"
    try:
        folder = store.folder(options.starts_from)
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


def check_dataset(
    dataset_id: str, errors: dict, generic: bool, store: JobStore
) -> DatasetInfo | None:
    """The chosen dataset's info (None before it is Done); what is wrong with it, in `errors`."""
    if not dataset_id:
        return None  # the options parser asks for one
    try:
        dataset = store.get(dataset_id)
    except JobNotFound:
        add_error(errors, "dataset", f"no dataset {dataset_id}")
        return None
    if dataset.kind != "dataset":
        add_error(errors, "dataset", f"job {dataset_id} is not a dataset")
        return None
    model_type = tasks.GENERIC_MODEL_TYPE if generic else tasks.CLASSIFICATION_MODEL_TYPE
    if not dataset_for(dataset.type, model_type):
        wanted = "a generic (Other)" if generic else "an image classification"
        add_error(errors, "dataset", f"{dataset.name} is not {wanted} dataset")
        return None
    if dataset.status in (Status.ABORT, Status.ERROR):
        add_error(errors, "dataset", f"dataset {dataset.name} ended {dataset.status.label}")
        return None
    return read_info(store.folder(dataset.id))


def dataset_for(dataset_type: str, model_type: str) -> bool:
    """Whether datasets of that job type are for models of that type (their task's)."""
    task = tasks.of_dataset_type(dataset_type)
    return task is not None and task.model_type == model_type


def check_gpus(options, errors: dict, hosts: dict[str, set[int]]) -> None:
    """GPUs that the live hosts can give: by index on one host, or a count no larger than
    they have together (more than one host has: the job trains across hosts)."""
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


def generic_dataset(dataset_id: str, store: JobStore) -> bool:
    """Whether the dataset's models use DIGITS' generic routes (its task's)."""
    try:
        task = tasks.of_dataset_type(store.get(dataset_id).type)
    except JobNotFound:
        return False
    return bool(task and task.generic)
