"""Every page, visited as a person would: none logs a console error, fails a request (favicon
included) or throws, and each page's own script has run."""

import pytest
from playwright.sync_api import expect

from tests.support.api import build_dataset, finished, post
from tests.support.imagesets import make_class_folders
from tests.support.processes import Server, data_roots_of


@pytest.fixture
def server_with_jobs(jobs_dir):
    """A server with its workers, a Done dataset and a finished countdown job."""
    server = Server(jobs_dir)
    try:
        folder = make_class_folders(data_roots_of(jobs_dir) / "colors", per_class=6)
        dataset = build_dataset(server, folder, "colors", size=16)
        assert finished(server, dataset, timeout=60)["status"] == "Done"
        countdown = post(server, "/test/countdown.json", steps="3", delay="0.01").json()["id"]
        assert finished(server, countdown)["status"] == "Done"
        yield server, dataset, countdown
    finally:
        server.discard()


def test_no_page_logs_an_error(page, server_with_jobs, trouble, screenshot):
    """Pages beyond these are visited, with the same checks, in the tests of their features:
    the model page while training and Done, Classify One and Classify Many in test_model_page."""
    server, dataset, countdown = server_with_jobs
    page.goto(server.url + "/login")
    page.get_by_label("Username").fill("fred")
    page.get_by_role("button", name="Log in").click()
    visits = [  # address, an element its page must have, the name of its screenshot
        ("/", "datasets-table", "home"),
        ("/datasets/images/classification/new", "dataset-form", "new-dataset"),
        ("/models/images/classification/new", "lr-preview", "new-model"),
        (f"/datasets/{dataset}", "class-chart", "dataset"),
        (f"/datasets/images/classification/explore?job_id={dataset}", None, "explore"),
        (f"/jobs/{countdown}", "log", "job"),
        ("/hardware", "hosts", "hardware"),
    ]
    for path, role, name in visits:
        page.goto(server.url + path)
        page.wait_for_load_state("networkidle")
        if role:
            expect(page.get_by_test_id(role)).to_be_attached()
        screenshot(name)
    # The scripts ran: charts drawn, the live log filled, the hosts listed.
    page.goto(f"{server.url}/datasets/{dataset}")
    expect(page.get_by_test_id("class-chart").locator(".main-svg").first).to_be_attached()
    page.goto(f"{server.url}/jobs/{countdown}")
    expect(page.get_by_test_id("log")).to_contain_text("step")
    page.goto(server.url + "/hardware")
    expect(page.get_by_test_id("host").first).to_be_attached()
    assert trouble == []


def test_a_missing_page_is_a_plain_404(page, server_with_jobs):
    server, _, _ = server_with_jobs
    response = page.goto(server.url + "/datasets/20200101-000000-0000")
    assert response.status == 404
    expect(page.get_by_text("not found")).to_be_visible()
