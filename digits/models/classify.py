"""Classify One, as a worker answers it: the top classes of one image, and if asked what each
layer made of it and where the network looked."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from digits.datasets import images
from digits.jobs.page_requests import RequestContext, RequestFailed
from digits.jobs.store import JobStore
from digits.models import inference, layer_views
from digits.models.devices import inference_device


def classify_one(ctx: RequestContext) -> dict[str, Any]:
    payload = ctx.payload
    store = JobStore(ctx.settings.jobs_dir)
    device = inference_device(ctx.settings, ctx.host)
    try:
        model = inference.load_model(store, payload["job_id"], payload.get("epoch"), device.name)
    except inference.ModelNotUsable as exc:
        raise RequestFailed(str(exc)) from exc
    source = ctx.folder / payload["image_file"] if payload.get("image_file") else payload["path"]
    try:
        pixels = model.prepare(source, ctx.settings.max_image_pixels)
    except images.BadImage as exc:
        raise RequestFailed(f"not an image this server can read: {exc}") from exc
    probabilities = model.classify([pixels])[0]
    if model.info.regression:
        return _values_answer(model, pixels, probabilities, device, payload)
    # Full precision, best first: what the exported model and scripts must reproduce.
    scores = inference.top_scores(probabilities, model.info.labels)
    answer: dict[str, Any] = {
        "predictions": inference.as_percentages(scores),
        "scores": scores,
        "epoch": model.info.epoch,
        "image": layer_views.png_data_uri(network_view(pixels, model.info)),
        **device.to_dict(),
    }
    if payload.get("visualizations"):
        answer |= inside_the_network(model, pixels, int(np.argmax(probabilities)))
    return answer


def _values_answer(model, pixels, values: np.ndarray, device, payload) -> dict[str, Any]:
    """A generic model's answer: DIGITS' {"outputs": {"output": [[v1, v2, ...]]}}, and ours
    (each value by its output's name)."""
    names = model.info.labels
    answer: dict[str, Any] = {
        "outputs": {"output": [values.tolist()]},
        "values": [[name, float(v)] for name, v in zip(names, values, strict=True)],
        "epoch": model.info.epoch,
        "image": layer_views.png_data_uri(network_view(pixels, model.info)),
        **device.to_dict(),
    }
    if payload.get("visualizations"):  # where the network looked for its first output
        answer |= inside_the_network(model, pixels, 0)
    return answer


def network_view(pixels: np.ndarray, info: inference.ModelInfo) -> np.ndarray:
    """The image as the network sees it: resized as the dataset was, centre-cropped."""
    height, width = info.input_size
    top, left = (pixels.shape[0] - height) // 2, (pixels.shape[1] - width) // 2
    return pixels[top : top + height, left : left + width]


def inside_the_network(model: inference.LoadedModel, pixels: np.ndarray, target: int) -> dict:
    classifier = model.classifier
    batch = model.batch([pixels])
    with torch.inference_mode():
        network_input = classifier.transform(batch)
    answer: dict[str, Any] = {
        "visualizations": layer_views.layer_visualizations(classifier.network, network_input)
    }
    heat = layer_views.grad_cam(classifier.network, network_input.clone(), target)
    if heat is not None:
        view = network_view(pixels, model.info)
        answer["saliency"] = {
            "label": model.info.labels[target],
            "image": layer_views.png_data_uri(layer_views.overlay(view, heat)),
        }
    return answer
