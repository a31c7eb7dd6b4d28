"""Turning a model job's choice (standard, custom code, an earlier or imported model to
fine-tune) into a torch module."""

from __future__ import annotations

import traceback

import torch
from torch import nn

from digits.models import catalog, networks, snapshots
from digits.models.layout import IMPORTED_FOLDER, IMPORTED_NETWORK
from digits.models.options import TrainingOptions, parse_training_options
from digits.models.published import IMAGENET_CLASSES, imagenet_weights
from digits.models.weights import load_into

CUSTOM_FILENAME = "custom_network.py"


class NetworkError(ValueError):
    """Network code that does not run or does not fit; `line` is where, when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def custom_factory(code: str):
    """The `network` function that custom code defines (the code runs here: trusted users only)."""
    namespace = {"torch": torch, "nn": nn, "__name__": "custom_network"}
    try:
        exec(compile(code, CUSTOM_FILENAME, "exec"), namespace)
    except SyntaxError as exc:
        raise NetworkError(f"syntax error: {exc.msg}", exc.lineno) from exc
    except Exception as exc:
        raise NetworkError(f"{type(exc).__name__}: {exc}", _user_line(exc)) from exc
    factory = namespace.get("network")
    if not callable(factory):
        raise NetworkError("the code must define network(num_classes, channels, height, width)")
    return factory


def _user_line(exc: BaseException) -> int | None:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == CUSTOM_FILENAME:
            return frame.lineno
    return None


def checked_network(factory, num_classes: int, channels: int, height: int, width: int) -> nn.Module:
    """Build and try the network on a batch of 2; it must give (2, num_classes)."""
    try:
        model = factory(num_classes, channels, height, width)
    except Exception as exc:
        raise NetworkError(f"{type(exc).__name__}: {exc}", _user_line(exc)) from exc
    if not isinstance(model, nn.Module):
        raise NetworkError(f"network() returned {type(model).__name__}, not a torch.nn.Module")
    try:
        with torch.no_grad():
            out = model.eval()(torch.zeros(2, channels, height, width))
    except Exception as exc:
        raise NetworkError(
            f"the network fails on {channels}x{height}x{width} images: {type(exc).__name__}: {exc}",
            _user_line(exc),
        ) from exc
    if tuple(out.shape) != (2, num_classes):
        raise NetworkError(
            f"the network outputs shape {tuple(out.shape)} for a batch of 2; "
            f"it must be (2, {num_classes}), one score per class"
        )
    return model.train()


def build_network(options: TrainingOptions, ctx, num_classes, channels, height, width) -> nn.Module:
    """The network to train: fresh, or for fine-tuning the earlier model's, with its weights."""
    if options.starts_from:
        return _fine_tuned(options, ctx.events.store, num_classes, channels, height, width)
    if options.pretrained_weights:
        return _from_published(options, ctx.settings, num_classes, channels, height, width)
    return _fresh(options, num_classes, channels, height, width)


def _from_published(options, settings, num_classes, channels, height, width) -> nn.Module:
    """A standard network with torchvision's ImageNet weights, its classifier re-sized."""
    model = networks.create(options.network, IMAGENET_CLASSES, channels, height, width)
    load_into(model, imagenet_weights(settings, options.network))
    if num_classes != IMAGENET_CLASSES:
        _resize_last_linear(model, num_classes)
    return model


def _fresh(options: TrainingOptions, num_classes, channels, height, width) -> nn.Module:
    if options.method == "custom":
        factory = custom_factory(options.custom_network)
        return checked_network(factory, num_classes, channels, height, width)
    return networks.create(options.network, num_classes, channels, height, width)


def _fine_tuned(options, store, num_classes, channels, height, width) -> nn.Module:
    """The earlier model's network and weights; its classifier re-sized for these classes."""
    folder = store.folder(options.starts_from)
    fresh = options.previous_epoch == 0  # DIGITS' "0": the architecture, with new weights
    snapshot = snapshots.load(folder, None if fresh else options.previous_epoch)
    model = _saved_architecture(store, folder, snapshot, channels, height, width)
    if not fresh:
        load_into(model, snapshot["model"])
    if len(snapshot["labels"]) != num_classes:
        _resize_last_linear(model, num_classes)
    return model


def _saved_architecture(store, folder, snapshot, channels, height, width) -> nn.Module:
    """The network a snapshot was saved from, with fresh weights and its own classes."""
    classes = len(snapshot["labels"])
    imported = imported_source(folder)
    if imported is not None:
        return custom_factory(imported)(classes, channels, height, width)
    earlier = parse_training_options(snapshot["parameters"])
    return architecture(earlier, store, classes, channels, height, width)


def architecture(options: TrainingOptions, store, num_classes, channels, height, width):
    """The network a model was trained as, with fresh weights, to load a snapshot into: a
    fine-tuned model's is the one it started from, its last layer re-sized as in training."""
    if not options.starts_from:
        return _fresh(options, num_classes, channels, height, width)
    folder = store.folder(options.starts_from)
    earlier = snapshots.read_header(folder, options.previous_epoch or None)
    model = _saved_architecture(store, folder, earlier, channels, height, width)
    if len(earlier["labels"]) != num_classes:
        _resize_last_linear(model, num_classes)
    return model


def imported_source(folder) -> str | None:
    """An imported model's network code, or None for a model trained here."""
    try:
        return (folder / IMPORTED_FOLDER / IMPORTED_NETWORK).read_text()
    except FileNotFoundError:
        return None


def network_source(options: TrainingOptions, store) -> str:
    """Code defining `network(num_classes, channels, height, width)` for a model, needing only
    torch; a fine-tuned model's is that of the model it started from."""
    if options.method == "custom":
        return options.custom_network
    if options.starts_from:
        folder = store.folder(options.starts_from)
        return model_source(store, folder, options.previous_epoch or None)
    return catalog.standalone_source(options.network)


def model_source(store, folder, epoch: float | None = None) -> str:
    """The network code of the model in `folder` (trained here or imported)."""
    imported = imported_source(folder)
    if imported is not None:
        return imported
    earlier = snapshots.read_header(folder, epoch)
    return network_source(parse_training_options(earlier["parameters"]), store)


def _resize_last_linear(model: nn.Module, num_classes: int) -> None:
    name, last = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
    setattr(parent, name.rsplit(".", 1)[-1], nn.Linear(last.in_features, num_classes))
