"""One judge of "best": the task's primary metric, for snapshot pruning, early stopping, the
model JSON, Compare and search alike."""

import json

from digits import tasks
from digits.jobs.store import JobStore
from digits.models import snapshots
from digits.models.job_type import model_details
from digits.models.layout import list_snapshots, snapshot_name
from tests.support.model_forms import done_dataset, model_fields, stored_job

# The loss keeps falling while top-1 peaks at epoch 1: the old judges disagreed here.
ROWS = [
    {"epoch": 1, "val_loss": 0.50, "val_top1": 90.0, "val_top5": 100.0},
    {"epoch": 2, "val_loss": 0.40, "val_top1": 80.0, "val_top5": 100.0},
    {"epoch": 3, "val_loss": 0.35, "val_top1": 70.0, "val_top5": 100.0},
]


def test_pruning_keeps_the_epoch_that_early_stopping_and_the_model_json_call_best(tmp_path):
    store = JobStore(tmp_path / "jobs")
    model = stored_job(store, "model", **model_fields(done_dataset(store), keep_snapshots="1"))
    folder = store.folder(model.id)
    state = snapshots.TrainingState()
    metric = tasks.get("classification").metric
    for row in ROWS:  # as the trainer does: validate, then snapshot (and prune)
        state.note_validation(row, metric)
        (folder / snapshot_name(row["epoch"])).write_bytes(b"")
        snapshots.prune(folder, 1, state.best_epoch)
        with open(folder / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
    assert state.best_epoch == 1  # early stopping waits from here
    assert list_snapshots(folder) == [1, 3]  # the best, and the last one
    details = model_details(model, folder)
    assert details["best"]["epoch"] == 1
    assert details["metric"] == {"key": "val_top1", "direction": "max", "title": "validation top-1"}


def test_a_regression_is_judged_by_its_lowest_validation_loss():
    metric = tasks.get("regression").metric
    rows = [{"epoch": 1, "val_loss": 2.0}, {"epoch": 2, "val_loss": 1.0}, {"epoch": 3}]
    assert metric.best_row(rows)["epoch"] == 2
    state = snapshots.TrainingState()
    assert [state.note_validation(r, metric) for r in rows[:2]] == [True, True]
    assert state.best_score == 1.0


def test_a_snapshot_from_before_one_best_resumes_with_no_best():
    old = {
        "step": 40,
        "best_val_loss": 0.3,
        "best_epoch": 2,
        "best_score": 90,
        "best_score_epoch": 1,
    }
    state = snapshots.TrainingState.from_dict(old)
    assert (state.step, state.best_epoch, state.best_score) == (40, None, None)
