"""Classify One, as a worker answers it: the model's task answers for one image (its top
classes, its values), and if asked what each layer made of it and where the network looked."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from digits import tasks
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
    scores = model.classify([pixels])[0]
    answer = tasks.get(model.info.task).inference().answer_one(model, pixels, scores, payload)
    return {
        **answer,
        "task": model.info.task,
        "epoch": model.info.epoch,
        "image": layer_views.png_data_uri(network_view(pixels, model.info)),
        **device.to_dict(),
    }


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
