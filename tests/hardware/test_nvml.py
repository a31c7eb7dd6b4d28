"""NVML's seam: no GPU here is the normal case; a fake device list stands in for GPUs."""

import os
import subprocess
import sys

import pytest

from digits.hardware import nvml
from tests.support.fake_gpus import GIB, write_fake_gpus


def test_a_host_without_gpus_or_driver_has_no_gpus(monkeypatch):
    monkeypatch.delenv(nvml.FAKE_GPUS_ENV, raising=False)
    if os.path.exists("/dev/nvidiactl"):
        pytest.skip("this machine has an NVIDIA driver")
    assert nvml.read_gpus() == []
    assert nvml.gpu_indexes() == []


def test_fake_devices_are_read_afresh_each_time(tmp_path, monkeypatch):
    path = write_fake_gpus(tmp_path / "gpus.json", count=2, utilization=10)
    monkeypatch.setenv(nvml.FAKE_GPUS_ENV, str(path))
    gpus = nvml.read_gpus()
    assert [g.index for g in gpus] == [0, 1]
    assert gpus[0].memory_total == 80 * GIB and gpus[0].utilization == 10
    write_fake_gpus(path, count=2, utilization=95)
    assert nvml.read_gpus()[1].utilization == 95


def test_worker_cli_offers_every_gpu_nvml_sees_by_default(tmp_path):
    """`digits worker` with no --gpus offers what NVML lists; --gpus none offers nothing."""
    path = write_fake_gpus(tmp_path / "gpus.json", count=3)
    env = {**os.environ, nvml.FAKE_GPUS_ENV: str(path)}
    code = "from digits.cli import parse_gpus as p; print(p(''), p('none'), p('2,0'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split("\n")[0] == "[0, 1, 2] [] [0, 2]", out.stderr
