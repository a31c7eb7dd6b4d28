"""GPU-only: a model job pinned to GPU 0 through its lease shows real NVML figures, and the
lease is free again once the job has ended. Run by scripts/gpu-check; skipped elsewhere."""

import pytest
import torch

from digits.files import read_json_lines
from digits.hardware import nvml
from digits.hardware.leases import GpuPool, GpuRequest, Lease
from digits.jobs.context import JobContext
from digits.jobs.events import USAGE_FILE, JobEvents
from digits.models.job_type import IMAGE_CLASSIFICATION_MODEL

from .jobs import dataset_and_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_a_job_on_gpu_zero_shows_real_figures_and_frees_it(tmp_path):
    [first, *_] = nvml.read_gpus()
    assert first.index == 0 and first.memory_total > 0, "NVML sees the GPU"
    settings, store, model = dataset_and_model(tmp_path, epochs=30)
    pool = GpuPool(settings.jobs_dir, [0])
    lease = pool.try_lease(GpuRequest((0,)), {"job_id": model.id, "name": model.name})
    assert isinstance(lease, Lease)
    try:
        events = JobEvents(store, lambda *args: None)
        IMAGE_CLASSIFICATION_MODEL.run(JobContext(model, settings, events, lease))
    finally:
        lease.release()
    samples = read_json_lines(store.folder(model.id) / USAGE_FILE)
    figures = [gpu for sample in samples for gpu in sample["gpus"]]
    assert figures and {gpu["index"] for gpu in figures} == {0}
    assert max(gpu["utilization"] for gpu in figures) > 0, samples
    assert max(gpu["memory_used"] for gpu in figures) > 0
    again = pool.try_lease(GpuRequest((0,)), {})
    assert isinstance(again, Lease), again
    again.release()
