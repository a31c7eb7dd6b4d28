"""What a model's sandboxed processes may reach (digits.sandbox), and whether they run code a
user supplied: a training sees its dataset and the models it starts from, read-only, and writes
only its own folder; a model at work (Classify One, Classify Many, the download's export) reads
its own folder and the folders it was built from."""

from __future__ import annotations

from pathlib import Path

from digits.forms import FormErrors
from digits.jobs.store import JobNotFound, JobStore
from digits.models.layout import imported_info
from digits.models.options import TrainingOptions, inference_model, parse_training_options
from digits.models.published import IMAGENET_FILES
from digits.sandbox import Confinement

MAX_CHAIN = 100  # fine-tunings of fine-tunings: a loop in hand-edited folders stops here


def training_confinement(ctx) -> tuple[Confinement, bool]:
    """A training's sandbox: its folder (written), its inputs (read), its GPUs; the network
    only for one host's part of a training across hosts."""
    store = ctx.events.store
    options = _options(ctx.job.parameters)
    inputs, user_code = _inputs(store, options)
    if options is not None and options.pretrained_weights:
        inputs.add(_published_weights(ctx.settings, options.network))
    confinement = Confinement(
        read_only=tuple(sorted(inputs)),
        writable=(ctx.folder,),
        network=ctx.gang is not None,
        gpus=bool(ctx.gpus),
    )
    return confinement, user_code


def model_confinement(store: JobStore, model_id: str, writable: tuple[Path, ...] = ()):
    """A model at work: its folder and what it was built from, read-only (besides `writable`);
    and whether its network is code a user supplied."""
    folder = store.folder(model_id)
    inputs, user_code = _model_inputs(store, model_id, 0)
    read_only = tuple(sorted(inputs - {folder}) + ([] if folder in writable else [folder]))
    return Confinement(read_only=read_only, writable=writable), user_code


def inference_confinement(ctx) -> tuple[Confinement, bool]:
    """Classify Many or Top N: its model read-only, its own folder written, the data roots
    (where its listed images are) read-only."""
    model_id = inference_model(ctx.job.parameters) or ""
    confinement, user_code = model_confinement(ctx.events.store, model_id)
    read_only = confinement.read_only + tuple(ctx.settings.data_roots)
    # No GPU for a user's code at work: the choice of a free GPU reads the host's leases,
    # which the sandbox cannot see (a training's own leased GPUs are another matter).
    return Confinement(read_only=read_only, writable=(ctx.folder,)), user_code


def _options(parameters) -> TrainingOptions | None:
    try:
        return parse_training_options(parameters)
    except FormErrors:
        return None


def _inputs(store: JobStore, options: TrainingOptions | None, depth: int = 0):
    """The folders a training of `options` reads, and whether its network is a user's code."""
    if options is None:
        return set(), True  # unreadable parameters: assume the worst
    folders = {store.folder(options.dataset)}
    user_code = options.method == "custom"
    if options.starts_from:
        earlier, earlier_code = _model_inputs(store, options.starts_from, depth + 1)
        folders |= earlier
        user_code = user_code or earlier_code
    return folders, user_code


def _model_inputs(store: JobStore, model_id: str, depth: int):
    folder = store.folder(model_id)
    if depth > MAX_CHAIN:
        return {folder}, True
    if imported_info(folder) is not None:
        return {folder}, True
    try:
        parameters = store.get(model_id).parameters
    except JobNotFound:
        return {folder}, True
    inputs, user_code = _inputs(store, _options(parameters), depth)
    return inputs | {folder}, user_code


def _published_weights(settings, network: str) -> Path:
    """The published weights file, downloaded here first if need be (the sandbox has no
    network)."""
    from digits.models.published import download

    path = settings.weights_folder / IMAGENET_FILES[network]
    if not path.exists():
        download(settings.weights_url.rstrip("/") + "/" + path.name, path)
    return path
