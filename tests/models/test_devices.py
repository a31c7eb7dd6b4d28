"""Where a trained network runs for a person: a free GPU, else a training's GPU with room (its
memory capped), else the CPU; the answer names the device and why."""

from digits.config import Settings
from digits.hardware.nvml import FAKE_GPUS_ENV, GpuStats
from digits.models.devices import GIB, SHARED_MEMORY_CAP, choose, inference_device
from tests.support.fake_gpus import write_fake_gpus


def gpus(*free_gib: float) -> dict[int, GpuStats]:
    """80 GiB GPUs with these amounts free."""
    total = 80 * GIB
    return {
        i: GpuStats(i, "H100", total, total - int(free * GIB)) for i, free in enumerate(free_gib)
    }


TRAINING = {"job_id": "20261128-000000-abcd", "name": "resnet"}


def test_a_host_without_cuda_answers_on_the_cpu_and_says_why():
    device = choose(0, gpus(70), {})
    assert device.name == "cpu"
    assert device.note == "the CPU: this host has no GPU that PyTorch can use"


def test_a_gpu_no_training_holds_wins_over_a_busier_one_with_more_room():
    device = choose(2, gpus(79, 10), {0: TRAINING, 1: None})
    assert (device.name, device.memory_cap) == ("cuda:1", None)
    assert device.note == "GPU 1, which no training holds"


def test_among_free_gpus_the_one_with_most_memory_free():
    assert choose(3, gpus(20, 60, 60), {}).name == "cuda:1"


def test_when_trainings_hold_every_gpu_one_is_shared_with_its_memory_capped():
    device = choose(2, gpus(3, 50), {0: TRAINING, 1: TRAINING})
    assert device.name == "cuda:1" and device.memory_cap == SHARED_MEMORY_CAP
    assert "shared with training resnet (20261128-000000-abcd)" in device.note
    assert "at most 4.0 GiB" in device.note
    tight = choose(1, gpus(3), {0: TRAINING})
    assert tight.memory_cap == int(1.5 * GIB)  # half of what is free, when that is less


def test_when_every_held_gpu_is_nearly_full_the_cpu_answers():
    device = choose(2, gpus(0.5, 0.8), {0: TRAINING, 1: TRAINING})
    assert device.name == "cpu"
    assert device.note == "the CPU: every GPU is held by a training, none with 1 GiB free"


def test_this_host_answers_on_the_cpu_whatever_nvml_says(tmp_path, monkeypatch):
    # No CUDA in this torch: GPUs on NVML's seam cannot make a GPU of the CPU.
    monkeypatch.setenv(FAKE_GPUS_ENV, str(write_fake_gpus(tmp_path / "gpus.json")))
    settings = Settings(jobs_dir=tmp_path)
    assert inference_device(settings, "host").name == "cpu"
    configured = inference_device(Settings(jobs_dir=tmp_path, inference_device="cpu"), "host")
    assert configured.note == "the CPU, as this server is configured (inference_device)"
