"""A trained model as files that run elsewhere: the download's contents, made by a worker.

The exported TorchScript and ONNX models are the same `Classifier` the server classifies with
(the model's `InputTransform` inside), so they take images as the dataset stores them (uint8,
N x C x H x W, resized as info.json says) and give class probabilities.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from digits import __version__, tasks
from digits.models import inference
from digits.models.download import export_folder
from digits.models.factory import model_source

ONNX_OPSET = 17

README = """# {name}: {kind} trained with DIGITS

Snapshot of epoch {epoch:g}, {classes} ({network}), for {channels}-channel images
resized to {width}x{height} with the "{resize_mode}" mode{crop}.

| File | What |
|---|---|
| `model.torchscript.pt` | TorchScript: `torch.jit.load(...)(images)` |
| `model.onnx` | ONNX (opset {opset}): input `images`, output `{output}` |
| `weights.pt` | the network's `state_dict` |
| `network.py` | the network's source: `network(num_outputs, channels, height, width)` |
| `labels.txt` | {label_kind}, one a line, in output order |
| `mean.npy`, `mean.png` | the training set's mean image (H x W x C), already inside the models |
| `info.json` | everything preprocessing needs |

Both models take the images as the dataset stored them: uint8, N x C x H x W, each image
loaded as {mode} and resized to {width}x{height} ("{resize_mode}"); mean subtraction, the centre
crop and scaling happen inside, and they answer {answers}.

From a DIGITS checkout (needs only torch, numpy and pillow; or onnxruntime with `--onnx`):

    python examples/classification/use_archive.py THIS_ARCHIVE image.jpg
    python examples/classification/example.py weights.pt network.py image.jpg \\
        -l labels.txt -m mean.npy

Made by DIGITS {version}.
"""


def export_request(ctx) -> dict:
    """The request a download sends: {"job_id", "epoch"} -> {"epoch": the snapshot's}."""
    from digits.jobs.page_requests import RequestFailed
    from digits.jobs.store import JobStore

    store = JobStore(ctx.settings.jobs_dir)
    try:
        folder = export_model(store, ctx.payload["job_id"], ctx.payload.get("epoch"))
    except inference.ModelNotUsable as exc:
        raise RequestFailed(str(exc)) from exc
    return {"epoch": float(folder.name.removeprefix("epoch_"))}


def export_model(store, model_id: str, epoch: float | None) -> Path:
    """The snapshot's files, made once into exports/epoch_<N>/ (written aside, then renamed)."""
    model = inference.load_model(store, model_id, epoch)
    folder = export_folder(store.folder(model_id), model.info.epoch)
    if folder.exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".epoch_", dir=folder.parent))
    try:
        _write_files(store, model_id, model, staging)
        os.replace(staging, folder)
    except OSError:
        if not folder.exists():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # another export won the race
    return folder


def _write_files(store, model_id: str, model: inference.LoadedModel, folder: Path) -> None:
    info = model.info
    task = tasks.get(info.task)
    job = store.get(model_id)
    classifier = model.classifier
    torch.save(classifier.network.state_dict(), folder / "weights.pt")
    try:
        source = model_source(store, store.folder(model_id), info.epoch)
        (folder / "network.py").write_text(source)
    except FileNotFoundError:
        pass  # a fine-tuned model whose ancestor is deleted: the exported models still run
    (folder / "labels.txt").write_text("".join(label + "\n" for label in info.labels))
    if model.mean is not None:
        np.save(folder / "mean.npy", model.mean.astype(np.float32))
        mean = np.clip(np.rint(model.mean), 0, 255).astype(np.uint8)
        Image.fromarray(mean[:, :, 0] if mean.shape[2] == 1 else mean).save(folder / "mean.png")
    example = torch.zeros(1, info.channels, info.height, info.width, dtype=torch.uint8)
    with warnings.catch_warnings():  # both exporters warn about their own deprecation
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.jit.trace(classifier, example).save(str(folder / "model.torchscript.pt"))
        _export_onnx(classifier, example, folder / "model.onnx", task.output_name)
    details = info.to_dict() | {
        "model_id": model_id,
        "model_name": job.name,
        "framework": "pytorch",
        "digits_version": __version__,
        "input": {
            "name": "images",
            "dtype": "uint8",
            "layout": "NCHW",
            "shape": [None, info.channels, info.height, info.width],
        },
        "output": {"name": task.output_name, "shape": [None, len(info.labels)]},
        "image_mode": "L" if info.channels == 1 else "RGB",
    }
    (folder / "info.json").write_text(json.dumps(details, indent=2) + "\n")
    if task.example_script:
        shutil.copyfile(task.example_script, folder / "example.py")
    crop = f", centre-cropped to {info.crop_size}x{info.crop_size}" if info.crop_size else ""
    (folder / "README.md").write_text(
        README.format(
            name=job.name,
            kind=task.model_kind,
            output=task.output_name,
            label_kind=task.label_kind,
            answers=task.answers_described(len(info.labels)),
            epoch=info.epoch,
            classes=task.counted(len(info.labels)),
            network=info.network,
            channels=info.channels,
            width=info.width,
            height=info.height,
            crop=crop,
            resize_mode=info.resize_mode,
            opset=ONNX_OPSET,
            version=__version__,
            mode="grayscale (L)" if info.channels == 1 else "RGB",
        )
    )


def _export_onnx(classifier, example: torch.Tensor, path: Path, output: str) -> None:
    buffer = io.BytesIO()
    torch.onnx.export(
        classifier,
        (example,),
        buffer,
        dynamo=False,
        opset_version=ONNX_OPSET,
        input_names=["images"],
        output_names=[output],
        dynamic_axes={"images": {0: "batch"}, output: {0: "batch"}},
    )
    path.write_bytes(buffer.getvalue())
