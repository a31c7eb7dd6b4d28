"""A person ticks models on the home page, compares them, and sorts the table."""

import json

import pytest
from playwright.sync_api import expect

from digits.jobs.status import Status
from digits.jobs.store import JobStore
from tests.support.model_forms import model_fields, new_job
from tests.support.processes import Server


def trained(store, number, name, rate, top1s):
    job = new_job("model", **model_fields("20260101-000000-dddd", learning_rate=rate))
    job.id, job.name = f"20260103-00000{number}-0000", name
    job.set_status(Status.RUN)
    job.set_status(Status.DONE)
    store.create(job)
    rows = [
        {"epoch": epoch, "val_loss": 2 - top1 / 100, "val_top1": top1, "train_loss": 1 / epoch}
        for epoch, top1 in enumerate(top1s, 1)
    ]
    (store.folder(job.id) / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return job


@pytest.fixture
def server(jobs_dir):
    store = JobStore(jobs_dir)
    trained(store, 1, "slow", "0.001", [40.0, 55.0, 60.0])
    trained(store, 2, "fast", "0.1", [70.0, 90.0, 85.0])
    trained(store, 3, "unticked", "0.5", [10.0])
    running = Server(jobs_dir)
    try:
        yield running
    finally:
        running.discard()


def test_tick_two_models_compare_them_and_sort(page, server, trouble, screenshot):
    page.goto(server.url + "/?tab=models")
    for name in ("slow", "fast"):
        row = page.locator("tr", has=page.get_by_role("link", name=name, exact=True))
        row.get_by_test_id("select").check()
    page.get_by_test_id("compare-selected").click()

    expect(page.locator("h1")).to_have_text("Compare 2 models")
    expect(page.get_by_test_id("compare-accuracy")).to_have_attribute("data-points", "6")
    expect(page.get_by_test_id("best-model")).to_contain_text("fast")
    table = page.get_by_test_id("compare-table")
    expect(table.locator("thead")).to_contain_text("learning_rate")  # the one setting that differs
    expect(table.locator("thead")).not_to_contain_text("train_epochs")
    table.get_by_role("columnheader", name="Best val top-1").click()  # ascending
    expect(table.locator("tbody tr").first).to_contain_text("slow")
    table.get_by_role("columnheader", name="Best val top-1").click()  # descending
    expect(table.locator("tbody tr").first).to_contain_text("fast")
    screenshot("compare")
    assert trouble == []
