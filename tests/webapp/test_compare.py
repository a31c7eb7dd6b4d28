"""Compare: several models' curves and what differs between them, as a page and as JSON."""

import json

import pytest

from digits.jobs.status import Status
from tests.support.model_forms import model_fields, new_job

NUMBERS = iter(range(1, 10_000))


@pytest.fixture
def store(app):
    return app.extensions["digits"].store


def trained(store, name, rate, top1s, group="", **parameters):
    """A Done model job whose metrics file holds one validation per epoch."""
    job = new_job("model", **model_fields("20260101-000000-dddd", learning_rate=rate, **parameters))
    job.id = f"20260102-{next(NUMBERS):06d}-0000"
    job.name, job.group = name, group
    job.set_status(Status.RUN)
    job.set_status(Status.DONE)
    store.create(job)
    rows = [
        {"epoch": epoch, "val_loss": 2.0 - top1 / 100, "val_top1": top1, "val_top5": 100.0}
        for epoch, top1 in enumerate(top1s, 1)
    ]
    (store.folder(job.id) / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return job


def test_compare_json_has_each_models_curves_best_and_only_the_settings_that_differ(fred, store):
    slow = trained(store, "slow", "0.001", [40.0, 55.0, 60.0])
    fast = trained(store, "fast", "0.1", [70.0, 90.0, 85.0])
    data = fred.get(f"/models/compare.json?job_id={slow.id}&job_id={fast.id}").get_json()
    assert [m["name"] for m in data["models"]] == ["slow", "fast"]  # in the order asked
    assert data["differing"] == ["learning_rate"]  # the same dataset, network, epochs...
    assert [m["settings"] for m in data["models"]] == [
        {"learning_rate": "0.001"},
        {"learning_rate": "0.1"},
    ]
    best = data["models"][1]
    assert best["best"] and not data["models"][0]["best"]
    assert (best["best_epoch"], best["best_val_top1"]) == (2, 90.0)
    assert [row["val_top1"] for row in best["metrics"]] == [70.0, 90.0, 85.0]
    page = fred.get(f"/models/compare?job_id={slow.id}&job_id={fast.id}")
    assert page.status_code == 200 and b'data-role="best-model"' in page.data


def test_a_group_is_compared_whole_and_bad_requests_name_job_id(fred, store):
    for rate in ("0.01", "0.02", "0.03"):
        trained(store, f"lr {rate}", rate, [50.0], group="sweep 1")
    trained(store, "elsewhere", "0.5", [99.0])
    data = fred.get("/models/compare.json?group=sweep 1").get_json()
    assert [m["name"] for m in data["models"]] == ["lr 0.01", "lr 0.02", "lr 0.03"]
    for query in ("", "?job_id=20250101-000000-abcd", "?group=nobody"):
        refused = fred.get(f"/models/compare.json{query}")
        assert refused.status_code == 400 and "job_id" in refused.get_json()["errors"], query
