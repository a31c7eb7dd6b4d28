"""GPU-only: Classify One and Classify Many's network on a GPU, with the CPU's numbers.

Run by scripts/gpu-check on a GPU machine; skipped elsewhere (tests/models/test_devices.py
covers the choice of device everywhere).
"""

import numpy as np
import pytest
import torch

from digits.hardware.leases import GpuPool, GpuRequest
from digits.jobs.page_requests import RequestContext
from digits.models import inference
from digits.models.classify import classify_one
from digits.models.devices import inference_device

from .jobs import dataset_and_model, run_trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

HOST = "gpu-host"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    settings, store, model = dataset_and_model(tmp_path_factory.mktemp("gpu"), epochs=1)
    result = run_trainer(settings, model)
    assert result.returncode == 0, result.stderr[-3000:]
    return settings, store, model


def test_a_free_gpu_answers_with_the_cpus_probabilities(trained):
    settings, store, model = trained
    device = inference_device(settings, HOST)
    assert device.name == "cuda:0" and device.note == "GPU 0, which no training holds"
    on_gpu = inference.load_model(store, model.id, device=device.name)
    on_cpu = inference.load_model(store, model.id)
    images = sorted((settings.data_roots[0]).glob("*/*.png"))[:64]
    pixels = [on_cpu.prepare(path) for path in images]
    assert next(on_gpu.classifier.parameters()).device.type == "cuda"
    np.testing.assert_allclose(on_gpu.classify(pixels), on_cpu.classify(pixels), atol=1e-4)


def test_classify_one_with_visualizations_runs_on_the_gpu(trained, tmp_path):
    settings, _, model = trained
    image = sorted((settings.data_roots[0]).glob("c1/*.png"))[0]
    payload = {"job_id": model.id, "path": str(image), "visualizations": True}
    answer = classify_one(RequestContext(settings, tmp_path, payload, HOST))
    assert answer["device"] == "cuda:0"
    assert answer["predictions"][0][0] == "c1"
    assert answer["visualizations"] and answer["saliency"]["label"] == "c1"


def test_a_gpu_a_training_holds_is_shared_with_a_memory_cap(trained):
    settings, _, _ = trained
    pool = GpuPool(settings.jobs_dir, [0], HOST)
    lease = pool.try_lease(GpuRequest((0,)), {"job_id": "j1", "name": "a training"})
    try:
        device = inference_device(settings, HOST)
    finally:
        lease.release()
    assert device.name == "cuda:0" and device.memory_cap
    assert "shared with training a training (j1)" in device.note
