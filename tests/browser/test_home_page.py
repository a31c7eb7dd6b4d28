"""A person in Chromium: logs in, watches a job on the home page and on its own page."""

import pytest
import requests
from playwright.sync_api import expect

from tests.support.processes import Server


@pytest.fixture
def server(jobs_dir):
    running = Server(jobs_dir)  # the default install: embedded broker, its own workers
    yield running
    running.discard()


def submit(server, **fields) -> str:
    data = {"username": "fred", "steps": "40", "delay": "0.05", **fields}
    response = requests.post(server.url + "/test/countdown.json", data=data)
    response.raise_for_status()
    return response.json()["id"]


def test_log_in_and_watch_a_progress_bar_move_to_done(page, server):
    page.goto(server.url + "/")
    page.get_by_test_id("login-link").click()
    page.get_by_label("Username").fill("fred")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("username")).to_have_text("fred")
    page.evaluate("window.notReloaded = true")

    job_id = submit(server, name="watch me")
    row = page.locator(f'tr[data-job-id="{job_id}"]')
    expect(row).to_contain_text("watch me")  # the new job appears without a reload
    bar = row.get_by_test_id("progress")
    selector = f'tr[data-job-id="{job_id}"] [data-role=progress]'
    page.wait_for_function(
        "(s) => { const p = +document.querySelector(s).dataset.progress; return p > 0 && p < 1; }",
        arg=selector,
        timeout=15000,
    )
    seen = {float(bar.get_attribute("data-progress"))}
    expect(row.get_by_test_id("status")).to_have_text("Done", timeout=20000)
    expect(bar).to_have_attribute("data-progress", "1")
    assert any(0 < p < 1 for p in seen)
    assert page.evaluate("window.notReloaded") is True
    page.get_by_test_id("logout").click()  # a POST with the page's CSRF token
    expect(page.get_by_test_id("login-link")).to_be_visible()


def test_job_page_shows_live_log_and_abort(page, server, screenshot):
    page.goto(server.url + "/login")
    page.get_by_label("Username").fill("fred")
    page.get_by_role("button", name="Log in").click()
    job_id = submit(server, kind="model", steps="400", name="long one")
    page.goto(f"{server.url}/models/{job_id}")
    expect(page.get_by_test_id("job-name")).to_have_text("long one")
    expect(page.get_by_test_id("log")).to_contain_text("step 3/400", timeout=15000)
    page.get_by_test_id("abort").click()
    expect(page.get_by_test_id("status")).to_have_text("Aborted", timeout=10000)
    expect(page.get_by_test_id("abort")).to_be_disabled()
    history = page.get_by_test_id("status-history")
    for status in ("Initialized", "Waiting", "Running", "Aborted"):
        expect(history).to_contain_text(status)
    screenshot("job-page")


def test_a_filtered_page_follows_new_jobs_that_match_and_only_those(page, server):
    submit(server, name="before", group_name="pets", steps="1")
    page.goto(server.url + "/")
    page.get_by_label("Group").select_option("pets")  # filters at once, into the address
    expect(page).to_have_url(server.url + "/?tab=datasets&group=pets")
    page.evaluate("window.notReloaded = true")
    outside = submit(server, name="outside", steps="1")
    inside = submit(server, name="inside", group_name="pets", steps="1")
    expect(page.locator(f'tr[data-job-id="{inside}"]')).to_contain_text("inside")
    expect(page.locator("[data-count=datasets]")).to_have_text("2")
    expect(page.locator(f'tr[data-job-id="{outside}"]')).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
    page.get_by_test_id("clear-filters").click()
    expect(page.locator(f'tr[data-job-id="{outside}"]')).to_be_visible()
