"""GPU-only: a model job's trainer on CUDA (bf16, channels-last), pinned to GPU 0.

Run by scripts/gpu-check on a GPU machine; skipped elsewhere. Needs no server: the dataset and
model jobs are laid out with the job store and the trainer runs under torchrun, as a worker
would start it.
"""

import json

import pytest
import torch

from digits.jobs.events import read_events
from digits.models import batch_finder

from .jobs import dataset_and_model, run_trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_training_on_gpu_zero_learns_and_reports(tmp_path):
    settings, store, model = dataset_and_model(tmp_path, epochs=3)
    result = run_trainer(settings, model)
    folder = store.folder(model.id)
    log = [e["line"] for e in read_events(folder) if e.get("update") == "log"]
    assert result.returncode == 0, "\n".join(log[-30:]) + result.stderr[:3000]

    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert max(r["val_top1"] for r in rows if "val_top1" in r) >= 90.0
    snapshot = torch.load(folder / "snapshot_epoch_3.pt", weights_only=True)
    assert snapshot["labels"] == ["c0", "c1", "c2"]
    progress = [e for e in read_events(folder) if e.get("update") == "progress"]
    assert progress[-1]["progress"] == 1.0 and progress[-1]["images_per_sec"] > 0


def test_a_sandboxed_training_reaches_its_gpu(tmp_path):
    """Users' code trains in a bubblewrap sandbox: its GPU's device files go in with it."""
    from digits import sandbox

    if not sandbox.available():
        pytest.skip(f"no sandbox here: {sandbox.unavailable_reason()}")
    settings, store, model = dataset_and_model(tmp_path, epochs=1)
    dataset = store.folder(model.parameters["dataset"])
    confinement = sandbox.Confinement(
        read_only=(dataset,), writable=(store.folder(model.id),), gpus=True
    )
    result = run_trainer(settings, model, confinement=confinement)
    assert result.returncode == 0, result.stderr[-3000:]
    progress = [e for e in read_events(store.folder(model.id)) if e.get("update") == "progress"]
    assert progress[-1]["progress"] == 1.0


def test_the_largest_batch_on_gpu_zero_is_found_with_real_steps(tmp_path):
    settings, store, model = dataset_and_model(tmp_path, epochs=1, find_batch="1")
    result = run_trainer(settings, model)
    assert result.returncode == 0, result.stderr[-3000:]
    found = batch_finder.read_result(store.folder(model.id))
    assert found["device"] == "cuda" and found["largest"] >= 256
    fitted = [row for row in found["tries"] if row["fits"]]
    assert all(row["images_per_sec"] > 0 and row["memory_bytes"] > 0 for row in fitted)
    assert found["suggested"] <= found["largest"]
