"""A person starts a search from the New Model form, and reads a search's page: its trials, the
best marked, the scores charted."""

import json

import pytest
from playwright.sync_api import expect

from digits.jobs.job import Job
from digits.jobs.status import Status
from digits.jobs.store import JobStore
from tests.support.api import build_dataset, finished
from tests.support.imagesets import make_class_folders
from tests.support.model_forms import done_dataset, model_fields
from tests.support.processes import Server, data_roots_of


def trial(number, rate, state, scores, value=None, note=None):
    return {
        "number": number,
        "job_id": f"20260103-00000{number}-0000",
        "state": state,
        "values": {"learning_rate": rate},
        "value": value,
        "scores": scores,
        "epochs": len(scores),
        "note": note,
    }


def stored_search(store: JobStore, dataset: str) -> Job:
    """A search that has run four trials so far, as its job writes its summary."""
    parameters = model_fields(dataset, model_name="colors", learning_rate="0.001")
    parameters |= {"search_space": "learning_rate: 0.001 .. 0.1", "search_trials": "6"}
    job = Job(
        id="20260103-000000-5ea1",
        type="model-search",
        kind="model",
        name="Search: colors",
        owner="fred",
        queue="cpu",
        parameters=parameters,
        group="colors",
    )
    job.set_status(Status.RUN)
    store.create(job)
    summary = {
        "metric": "val_top1",
        "direction": "maximize",
        "best": 2,
        "trials": [
            trial(1, "0.001", "Done", [40.0, 60.0], 60.0),
            trial(2, "0.03", "Done", [80.0, 90.0], 90.0),
            trial(3, "0.0002", "Pruned", [20.0], note="pruned by the search: top-1 20.0%"),
            trial(4, "0.05", "Running", [85.0]),
        ],
    }
    (store.folder(job.id) / "search.json").write_text(json.dumps(summary))
    return job


@pytest.fixture
def server(jobs_dir):
    store = JobStore(jobs_dir)
    dataset = done_dataset(store)
    stored_search(store, dataset)
    running = Server(jobs_dir, workers=False)
    try:
        yield running
    finally:
        running.discard()


def test_a_searchs_page_lists_its_trials_and_marks_the_best(page, server, trouble, screenshot):
    page.goto(server.url + "/models/20260103-000000-5ea1")
    rows = page.get_by_test_id("trials").locator("tbody tr")
    expect(rows).to_have_count(4)
    expect(page.get_by_test_id("best-trial")).to_contain_text("#2")
    expect(page.get_by_test_id("search-best")).to_have_text(
        "Best so far: trial #2, 90.0% (learning_rate 0.03)."
    )
    expect(rows.nth(2)).to_contain_text("pruned by the search")
    expect(rows.nth(3)).to_contain_text("85.0%")  # a running trial's last score
    # A point per trial with a score (done, pruned, running), and the best so far as a line.
    expect(page.get_by_test_id("search-chart").locator(".point")).to_have_count(4)
    link = page.get_by_test_id("best-trial").get_by_role("link", name="#2")
    expect(link).to_have_attribute("href", "/models/20260103-000002-0000")
    compare = page.get_by_test_id("compare-trials")
    expect(compare).to_have_attribute("href", "/models/compare?group=colors")
    screenshot("search")
    assert trouble == []


def test_the_new_model_form_starts_a_search_or_names_the_line_it_cannot_read(page, server, trouble):
    page.goto(server.url + "/login")
    page.get_by_label("Username").fill("fred")
    page.get_by_role("button", name="Log in").click()
    page.goto(server.url + "/models/images/classification/new")
    page.get_by_label("Model name").fill("lenet")
    page.get_by_text("Search hyperparameters").click()
    space = page.get_by_label("Search space")
    space.fill("learning_rate: 0.001 .. 0.1\nbatch_size 16")
    page.get_by_test_id("start-search").click()
    expect(page.locator(".field-error, .error")).to_contain_text("line 2: write a field, a colon")
    expect(page.get_by_label("Search space")).to_have_value(
        "learning_rate: 0.001 .. 0.1\nbatch_size 16"
    )
    page.get_by_label("Search space").fill("learning_rate: 0.001 .. 0.1\nbatch_size: 16, 32")
    page.get_by_test_id("start-search").click()
    expect(page.get_by_test_id("job-name")).to_have_text("Search: lenet")
    expect(page.get_by_test_id("search-best")).to_have_text("No trial has finished yet.")
    # The refusal was the form's 400 (and the console's note of it), nothing else.
    assert trouble == [
        f"400: {server.url}/models/search",
        "console: Failed to load resource: the server responded with a status of 400 (BAD REQUEST)",
    ]


@pytest.fixture
def live_server(jobs_dir):
    """`digits serve` with its workers, and a Done dataset of three colours."""
    folder = make_class_folders(data_roots_of(jobs_dir) / "colors", per_class=8, size=(16, 16))
    running = Server(jobs_dir)
    try:
        dataset = build_dataset(running, folder, "colors", size=16)
        assert finished(running, dataset)["status"] == "Done"
        yield running
    finally:
        running.discard()


def test_a_search_started_from_the_form_fills_its_page_live(page, live_server, trouble):
    page.goto(live_server.url + "/login")
    page.get_by_label("Username").fill("fred")
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server.url + "/models/images/classification/new")
    page.get_by_label("Training epochs").fill("2")
    page.get_by_label("Model name").fill("live")
    page.get_by_text("Search hyperparameters").click()
    page.get_by_label("Search space").fill("learning_rate: 0.01, 0.05")
    page.get_by_label("Trials", exact=True).fill("2")
    page.get_by_test_id("start-search").click()
    expect(page.get_by_test_id("job-name")).to_have_text("Search: live")
    page.evaluate("window.drawnOnce = true")  # gone if the page reloads
    # The trials come as the search reports them (the second while it trains), not by reload.
    rows = page.get_by_test_id("trials").locator("tbody tr")
    expect(rows).to_have_count(2, timeout=90000)
    assert page.evaluate("window.drawnOnce === true")
    expect(page.get_by_test_id("best-trial")).to_be_visible(timeout=90000)
    expect(page.get_by_test_id("search-best")).to_contain_text("Best so far: trial #")
    expect(page.get_by_test_id("status")).to_have_text("Done", timeout=90000)
    assert trouble == []
