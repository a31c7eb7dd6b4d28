"""The image-classification model job type: training under torchrun, and what its page shows."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from digits import tasks
from digits.config import CPU_QUEUE, GPU_QUEUE
from digits.datasets.database import records_at
from digits.datasets.layout import database, read_info
from digits.files import read_json_lines, read_last_json_lines, read_regular
from digits.forms import FormErrors
from digits.hardware.leases import GpuRequest
from digits.jobs.child import run_in_child
from digits.jobs.context import JobContext, JobError
from digits.jobs.events import USAGE_FILE
from digits.jobs.gang_runs import read_gang
from digits.jobs.job import Job
from digits.jobs.page_requests import register_handler
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound
from digits.jobs.types import JobType, register
from digits.jobs.warm import WarmModule
from digits.models import batch_finder, lr_finder
from digits.models.importing import IMPORT_REQUEST, import_model
from digits.models.layout import (
    METRICS_FILE,
    MODEL_LABELS,
    MODEL_MEAN,
    MODEL_NETWORK,
    PROBES_FILE,
    SEARCH_STUDY_FILE,
    SEARCH_SUMMARY_FILE,
    VAL_CONFUSION_FILE,
    imported_info,
    list_snapshots,
    picked_probes,
    snapshot_name,
)
from digits.models.network_check import CHECK_NETWORK_REQUEST, check_network
from digits.models.options import (
    TrainingOptions,
    inference_model,
    parse_training_options,
)
from digits.models.sandboxing import inference_confinement, training_confinement
from digits.paging import page_number, page_of

# The batch finder's record of how many GPUs the form that started it chose (it runs on one).
BATCH_FOR_GPUS = "batch_for_gpus"
CLASSIFY_RESULTS = "results.json"  # written by digits.models.classify_many
STOP_GRACE = 60.0  # seconds to finish the step and write a snapshot before being signalled


def options_of(job: Job) -> TrainingOptions | None:
    """A model job's parameters, as the options parser reads them: the one reader of the raw
    form. None for parameters that do not parse (they did when the job was submitted: a job
    folder written by hand, or by another version)."""
    try:
        return parse_training_options(job.parameters)
    except FormErrors:
        return None


def gpu_request(job: Job) -> GpuRequest:
    """The GPUs chosen on the form (`select_gpus`), or else any `select_gpu_count` of them."""
    return _gpu_request(options_of(job))


def _gpu_request(options: TrainingOptions | None) -> GpuRequest:
    if options is None:
        return GpuRequest((), 1)
    return GpuRequest(tuple(sorted(set(options.gpus))), options.gpu_count, options.host_gpus)


def uses(job: Job) -> list[str]:
    """A model uses its dataset, and when fine-tuned the model it started from."""
    options = options_of(job)
    if options is None:
        return []
    return [options.dataset] + ([options.starts_from] if options.starts_from else [])


def torchrun_command(ctx: JobContext) -> tuple[list[str], dict[str, str]]:
    """One rank per leased GPU under torchrun, which is all the ranks see (CUDA_VISIBLE_DEVICES),
    so a rank's cuda:0 is the physical GPU it leased. On a host with no GPUs, as many gloo ranks
    on the CPU as `select_gpu_count` asks for. A single rank runs as the trainer itself."""
    # No lease (a worker offering no GPUs): no GPU either, not one that another job holds.
    env = {"CUDA_VISIBLE_DEVICES": ",".join(map(str, ctx.gpus))}
    ranks = len(ctx.gpus) or gpu_request(ctx.job).size
    # The job id in the command line lets an operator find a job's processes with `ps`.
    trainer = ["-m", "digits.models.train", ctx.job.id]
    if ctx.gang:  # this host's ranks of a gang: they join the others at the leader's rendezvous
        return [sys.executable, *gang_launcher(ctx.gang, ctx.job.id, ranks), *trainer], env
    if ranks == 1:  # one rank needs no launcher: a second of start-up (torch imported once)
        return [sys.executable, "-u", *trainer], env  # unbuffered, as torchrun starts ranks
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"]
    return [sys.executable, *launcher, *trainer], env


JOIN_TIMEOUT = 120  # seconds a gang's hosts have to meet at its rendezvous


def gang_launcher(gang, job_id: str, ranks: int) -> list[str]:
    """torchrun on one host of a gang: its ranks, the gang's host count, and the c10d rendezvous
    that the leader's host holds (global ranks are numbered over the hosts as they join)."""
    return [
        "-m",
        "torch.distributed.run",
        f"--nnodes={gang.nodes}",
        f"--nproc_per_node={ranks}",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint={gang.endpoint}",
        f"--rdzv-id={job_id}",
        # A host that never joins (its worker lost since the gang was made) fails the run in
        # minutes, not torchrun's default quarter of an hour: the job then resumes or waits.
        f"--rdzv-conf=is_host={'true' if gang.leads else 'false'},join_timeout={JOIN_TIMEOUT}",
        "--max-restarts=0",  # a host lost ends the run: the job resumes from its snapshot
    ]


def read_metrics(folder: Path) -> list[dict[str, Any]]:
    return read_json_lines(folder / METRICS_FILE)


USAGE_HISTORY = 300  # samples (seconds) of CPU/GPU figures a model page starts with


def model_page_data(job: Job, folder: Path, args: Mapping[str, str]) -> dict[str, Any]:
    """What the model page's charts start from (then live events extend them)."""
    return {
        "metrics": read_metrics(folder),
        "usage": read_last_json_lines(folder / USAGE_FILE, USAGE_HISTORY),
        "probes": probe_history(job, folder),
    }


def probe_history(job: Job, folder: Path) -> dict[str, Any] | None:
    """The probe images (pictures, true classes) and their top predictions at each validation
    so far; None for a model that follows none."""
    options = options_of(job)
    indexes = (picked_probes(folder) or options.probe_indexes) if options else ()
    if not indexes:
        return None
    dataset_folder = folder.parent / options.dataset
    info = read_info(dataset_folder)
    if info is None or not tasks.of_dataset(info).follows_probes or "val" not in info.splits:
        return None
    records = records_at(dataset_folder / database("val"), indexes)
    history = read_json_lines(folder / PROBES_FILE)
    return {
        "labels": info.labels,
        "images": [{"image": record.png_data_uri(), "label": record.label} for record in records],
        "history": history,
    }


def model_details(job: Job, folder: Path) -> dict[str, Any]:
    """DIGITS' model JSON keys, plus the latest and best validation figures."""
    options = options_of(job)
    if options is None:
        return {"framework": "pytorch", "snapshots": list_snapshots(folder)}
    dataset_id = options.dataset
    dataset_folder = folder.parent / dataset_id
    info = read_info(dataset_folder) if dataset_id and dataset_folder.is_dir() else None
    task = tasks.of_model(job.type, info)
    validations = [row for row in read_metrics(folder) if "val_loss" in row]
    best = task.metric.best_row(validations)
    labels = info.labels if info else []
    gang = read_gang(folder)
    # Across hosts, `gpus` are the leader's alone: every host's ranks are the request's.
    ranks = (not gang and len(job.gpus)) or _gpu_request(options).size
    details = {
        "task": task.name,
        "generic": task.generic,
        "metric": task.metric.to_dict(),
        **(task.model_details(info, options) if info else {}),
        "ranks": ranks,
        # Trained across hosts: each host and its GPUs, the rendezvous's host first.
        "hosts": gang["hosts"] if gang else None,
        "batch_size": options.batch_size,  # a blank field's: the network's own default
        "batch_per_rank": options.batch_size // max(1, ranks),
        "snapshots": list_snapshots(folder),
        "dataset_id": dataset_id,
        "labels": labels,
        "image dimensions": [info.image.height, info.image.width, info.image.channels]
        if info
        else [None, None, None],
        "image resize mode": info.image.resize_mode if info else None,
        "framework": "pytorch",
        "network": options.network if options.method == "standard" else options.method,
        "latest": validations[-1] if validations else None,
        # The best validation by the task's metric: the epoch pruning keeps, early stopping
        # waits on, Compare and search rank by.
        "best": best,
        "best_summary": task.describe_best(best) if best else None,
        "list_help": task.list_help,
        **_digits_files(folder),
        "validation_confusion": _validation_confusion(folder, labels),
    }
    return details | {"outputs_summary": task.describe_outputs(details)}


def _digits_files(folder: Path) -> dict[str, Any]:
    """DIGITS' names of a model's files (each under /files/<job id>/), where they exist."""
    snapshots = list_snapshots(folder)
    present = {
        "labels file": MODEL_LABELS,
        "mean file": MODEL_MEAN,
        "model file": MODEL_NETWORK,
    }
    return {key: name if (folder / name).exists() else None for key, name in present.items()} | {
        "snapshot file": snapshot_name(snapshots[-1]) if snapshots else "no snapshots"
    }


def _validation_confusion(folder: Path, labels: list[str]) -> dict[str, Any] | None:
    """The validation set's confusion matrix and per-class accuracy at the best epoch."""
    try:
        data = json.loads(read_regular(folder / VAL_CONFUSION_FILE))
    except (FileNotFoundError, ValueError):
        return None
    matrix = data["matrix"]
    per_class = [
        {"label": label, "count": sum(row), "top1": 100.0 * row[i] / sum(row) if sum(row) else None}
        for i, (label, row) in enumerate(zip(labels, matrix, strict=False))
    ]
    return {"epoch": data["epoch"], "labels": labels, "matrix": matrix, "per_class": per_class}


def dataset_ready(job: Job, store) -> tuple[str | None, str | None] | None:
    """A model waits while its dataset is not Done, and fails if the dataset failed."""
    options = options_of(job)
    if options is None:
        return None, "the model's parameters are not ones this version can read"
    dataset_id = options.dataset
    try:
        dataset = store.get(dataset_id)
    except JobNotFound:
        return None, f"dataset {dataset_id} does not exist (any more)"
    if dataset.status is Status.DONE:
        return None
    if dataset.status.is_terminal:
        return None, f"dataset {dataset.name} ({dataset_id}) ended {dataset.status.label}"
    return f"waiting for dataset {dataset.name} to be Done", None


def snapshot_to_resume(job: Job, folder: Path) -> str | None:
    """A model goes on from its latest snapshot (the trainer loads it when it starts)."""
    epochs = list_snapshots(folder)
    return f"the snapshot of epoch {epochs[-1]:g}" if epochs else None


IMAGE_CLASSIFICATION_MODEL = register(
    JobType(
        name=tasks.CLASSIFICATION_MODEL_TYPE,
        kind="model",
        queue=GPU_QUEUE,
        run=run_in_child(
            torchrun_command,
            stop_grace=STOP_GRACE,
            record_usage=True,
            confine=training_confinement,
        ),
        title="Images → Classification",
        form_endpoint="models.new_classification",
        details=model_details,
        page_template="models/sections.html",
        page_data=model_page_data,
        waiting_on=dataset_ready,
        gpu_request=gpu_request,
        depends_on=uses,
        resume_point=snapshot_to_resume,
        trains=True,
    )
)


IMAGE_GENERIC_MODEL = register(
    replace(
        IMAGE_CLASSIFICATION_MODEL,
        name=tasks.GENERIC_MODEL_TYPE,
        title="Images → Other",
        form_endpoint="models.new_generic",
    )
)


def range_test_details(job: Job, folder: Path) -> dict[str, Any]:
    """A learning-rate range test's losses by rate and its proposed rate."""
    options = options_of(job)
    info = read_info(folder.parent / options.dataset) if options and options.dataset else None
    return {
        "dataset_id": options.dataset if options else None,
        "generic": bool(info and tasks.of_dataset(info).generic),
        "range_test": lr_finder.read_result(folder),
    }


LR_RANGE_TEST = register(
    replace(
        IMAGE_CLASSIFICATION_MODEL,
        name="lr-range-test",
        title="Learning-rate range test",
        form_endpoint=None,  # started from the New Model form, not a form of its own
        details=range_test_details,
        page_template="models/lr_range_test.html",
        page_data=None,
        resume_point=None,
        trains=False,
    )
)


def batch_finder_details(job: Job, folder: Path) -> dict[str, Any]:
    """The sizes a largest-batch search tried on one GPU, the one it proposes per GPU, and the
    `batch_size` to give the form (the global batch: per GPU times the GPUs the form chose)."""
    found = batch_finder.read_result(folder)
    gpus = job.parameters.get(BATCH_FOR_GPUS)
    gpus = int(gpus) if isinstance(gpus, str) and gpus.isdigit() and int(gpus) > 0 else 1
    suggested = found.get("suggested") if found else None
    return range_test_details(job, folder) | {
        "batch_finder": found,
        "batch_for_gpus": gpus,
        "suggested_batch_size": suggested * gpus if suggested else None,
    }


BATCH_FINDER = register(
    replace(
        LR_RANGE_TEST,
        name="batch-finder",
        title="Largest batch that fits",
        details=batch_finder_details,
        page_template="models/batch_finder.html",
    )
)


def search_details(job: Job, folder: Path) -> dict[str, Any]:
    """A search's trials, their scores and the best so far (digits.models.search writes them)."""
    try:
        summary = json.loads(read_regular(folder / SEARCH_SUMMARY_FILE))
    except (FileNotFoundError, ValueError):
        summary = None
    return range_test_details(job, folder) | {"search": summary}


def run_search(ctx: JobContext) -> None:
    """The search's loop, on a CPU worker (Optuna is imported there, never in the web process)."""
    from digits.models.search import run_search as run

    run(ctx)


def search_resume_point(job: Job, folder: Path) -> str:
    """A search goes on from its study: its finished trials count, its stopped ones resume."""
    if (folder / SEARCH_STUDY_FILE).exists():
        return "its trials so far (those stopped with it resume)"
    return "its first trial"


MODEL_SEARCH = register(
    JobType(
        name="model-search",
        kind="model",
        queue=CPU_QUEUE,  # it holds no GPU: it submits the trials, which wait for theirs
        run=run_search,
        title="Hyperparameter search",
        details=search_details,
        page_template="models/search.html",
        waiting_on=dataset_ready,
        depends_on=uses,
        resume_point=search_resume_point,
    )
)


def model_of(job: Job) -> str | None:
    """The model a Classify Many or Top N run classifies with."""
    return inference_model(job.parameters)


# What the page of an inference run shows of its parameters, in this order.
INFERENCE_PARAMETERS = (
    ("job_id", "Model"),
    ("snapshot_epoch", "Snapshot epoch (blank: the latest)"),
    ("image_list", "List of images"),
    ("image_archive", "Archive of images"),
    ("image_folder", "Image folder"),
    ("num_test_images", "Images classified at most"),
    ("top_n", "Top N: images shown per class"),
)


def classifications_details(job: Job, folder: Path) -> dict[str, Any]:
    """Classify Many's results: DIGITS' `classifications` ({path: [[label, percent]...]}), and
    ours (accuracy, per class, confusion matrix, Top N, lines that could not be read)."""
    model_id = model_of(job)
    try:
        results = json.loads(read_regular(folder / CLASSIFY_RESULTS))
    except (FileNotFoundError, ValueError):
        return {"model_id": model_id, "task": _task_of_model(folder.parent, model_id).name}
    # Results written before they named their task: a regression's hold its outputs' names.
    task = results.get("task") or ("regression" if "outputs" in results else "classification")
    answers = tasks.get(task).many_answers(results)
    return {"model_id": model_id, "task": task, **answers, "results": results}


def _task_of_model(jobs_dir: Path, model_id: str | None) -> tasks.Task:
    """The task of a model job in that jobs folder (a classifier's where it cannot be read)."""
    try:
        job = Job.from_dict(json.loads(read_regular(jobs_dir / model_id / "job.json")))
    except (TypeError, FileNotFoundError, ValueError, KeyError):
        return tasks.get(tasks.DEFAULT_TASK)
    options = options_of(job)
    info = read_info(jobs_dir / options.dataset) if options and options.dataset else None
    return tasks.of_model(job.type, info)


IMAGES_PER_PAGE = 50  # rows of Classify Many's per-image table a page shows


def classifications_page_data(job: Job, folder: Path, args: Mapping[str, str]) -> dict[str, Any]:
    """A page of the per-image table (`page`); `show=wrong`: only the misclassified."""
    try:
        results = json.loads(read_regular(folder / CLASSIFY_RESULTS))
    except (FileNotFoundError, ValueError):
        return {}
    rows, labels = results["rows"], results.get("labels")
    wrong_only = args.get("show") == "wrong" and labels is not None
    if wrong_only:
        rows = [row for row in rows if misclassified(row, labels)]
    page = page_of(rows, page_number(args.get("page")), IMAGES_PER_PAGE)
    return {"images": page, "wrong_only": wrong_only}


def misclassified(row: dict[str, Any], labels: list[str]) -> bool:
    """A labelled image whose top prediction is another class."""
    return row["label"] is not None and row["predictions"][0][0] != labels[row["label"]]


IMAGE_CLASSIFICATION_INFERENCE = register(
    JobType(
        name="image-classification-inference",
        kind="model",
        queue=CPU_QUEUE,  # a long batch: never in the way of Classify One on queue infer
        run=run_in_child(
            WarmModule("digits.models.classify_many", "classify_many"),
            confine=inference_confinement,
        ),
        title="Classify Many",
        details=classifications_details,
        page_template="models/classifications.html",
        page_data=classifications_page_data,
        run_of=model_of,
        parameter_titles=INFERENCE_PARAMETERS,
    )
)


IMPORTED_MODEL_TYPE = "image-classification-pretrained"


def imported_details(job: Job, folder: Path) -> dict[str, Any]:
    """An imported model's JSON: DIGITS' model keys from what its files declare."""
    declared = imported_info(folder) or {}
    return {
        "framework": "pytorch",
        "snapshots": list_snapshots(folder),
        "labels": declared.get("labels", []),
        "image dimensions": [
            declared.get("height"),
            declared.get("width"),
            declared.get("channels"),
        ],
        "image resize mode": declared.get("resize_mode"),
        "network": declared.get("network", "imported"),
        "imported": declared,
    }


def imported_ready(ctx: JobContext) -> None:
    """The worker that checked the upload wrote the model's files: it is ready as it is."""
    declared = imported_info(ctx.folder)
    if declared is None:
        raise JobError("the imported model's files are missing")
    size = f"{declared['width']}x{declared['height']}"
    ctx.log(f"imported: {len(declared['labels'])} classes, {size} images")
    ctx.progress(1.0)


IMPORTED_MODEL = register(
    JobType(
        name=IMPORTED_MODEL_TYPE,
        kind="model",
        queue=CPU_QUEUE,
        run=imported_ready,
        title="Import a model",
        form_endpoint="imports.new_import",
        details=imported_details,
        page_template="models/imported.html",
    )
)


def classify_one(ctx):
    """Classify One on a worker (torch is loaded there, never in the web process); a model
    whose network is a user's code answers from its sandboxed child."""
    from digits.models.classify import classify_one as classify
    from digits.models.served_models import answered_by_model

    return answered_by_model(ctx, "classify_one", classify)


def export_snapshot(ctx):
    """The files of a download, made on a worker: {"epoch": the snapshot's epoch}. A model
    whose network is a user's code is exported by its sandboxed child, which writes only the
    model's `exports/` folder."""
    from digits.jobs.store import JobStore
    from digits.models.download import EXPORTS
    from digits.models.export import export_request
    from digits.models.served_models import answered_by_model

    exports = JobStore(ctx.settings.jobs_dir).folder(ctx.payload["job_id"]) / EXPORTS
    exports.mkdir(exist_ok=True)
    return answered_by_model(ctx, "export", export_request, writable=(exports,))


register_handler("classify_one", classify_one)
register_handler("export", export_snapshot)
register_handler(CHECK_NETWORK_REQUEST, check_network)
register_handler(IMPORT_REQUEST, import_model)
