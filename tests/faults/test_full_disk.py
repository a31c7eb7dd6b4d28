"""A full disk while a snapshot is written: the job's error says so, the last one is intact.

The seam is the writer (torch.save): this machine cannot mount a small filesystem for a test.
"""

import errno

import pytest
import torch
from torch import nn

from digits.jobs.context import JobError
from digits.models import snapshots


def test_no_space_for_a_snapshot_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    context = snapshots.SnapshotContext(
        tmp_path,
        {"model_name": "m"},
        ["a", "b"],
        options=type("O", (), {"keep_snapshots": 0})(),
        is_main=True,
    )
    rng = [snapshots.rank_rng_state(torch.Generator())]
    state = snapshots.TrainingState(step=10)
    snapshots.save(context, model, optimizer, state, 10, rng)
    before = (tmp_path / "snapshot_epoch_1.pt").read_bytes()

    real_save = torch.save

    def save_until_the_disk_fills(data, path):
        real_save(data, path)  # a partial file, as a real full disk leaves behind
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save_until_the_disk_fills)
    state.step = 20
    with pytest.raises(
        JobError,
        match="no space left on the device for the snapshot of epoch 2; "
        "the snapshot of epoch 1 is intact",
    ):
        snapshots.save(context, model, optimizer, state, 10, rng)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot_epoch_1.pt"]
    assert (tmp_path / "snapshot_epoch_1.pt").read_bytes() == before
