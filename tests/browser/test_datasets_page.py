"""A person creates a dataset from a folder through the form and looks at the result."""

import pytest
from playwright.sync_api import expect

from tests.support.imagesets import gradient, make_class_folders
from tests.support.processes import Server, data_roots_of


@pytest.fixture
def server(jobs_dir):
    data_roots_of(jobs_dir).mkdir(exist_ok=True)
    running = Server(jobs_dir)
    yield running
    running.discard()


def test_create_a_dataset_through_the_form_and_see_chart_and_mean(
    page, server, jobs_dir, tmp_path, screenshot
):
    train = make_class_folders(data_roots_of(jobs_dir) / "colors", per_class=8)
    page.goto(server.url + "/login")
    page.get_by_label("Username").fill("fred")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Images → Classification").click()

    gradient((0, 0, 255), 40, 10).save(tmp_path / "wide.png")
    page.locator("summary", has_text="See example").click()
    page.locator("[data-example-file]").set_input_files(tmp_path / "wide.png")
    expect(page.locator("[data-examples] figure")).to_have_count(4)
    first = page.locator("[data-examples] img").first
    page.wait_for_function("(img) => img.naturalWidth === 256", arg=first.element_handle())

    page.get_by_label("Training images").fill(str(train))
    page.get_by_label("Width").fill("16")
    page.get_by_label("Height").fill("16")
    page.get_by_label("Height").press("Tab")  # committed: the examples follow the new size
    # Each new size replaces the pictures: look at whichever is shown now, not at a handle to
    # one that a later answer may replace.
    page.wait_for_function(
        "() => document.querySelector('[data-examples] img')?.naturalWidth === 16"
    )
    page.get_by_label("Dataset name").fill("colors")
    page.get_by_test_id("create").click()

    expect(page.get_by_test_id("job-name")).to_have_text("colors")
    expect(page.get_by_test_id("status")).to_have_text("Done", timeout=30000)
    expect(page.get_by_test_id("class-chart").locator(".main-svg").first).to_be_visible()
    bars = page.get_by_test_id("class-chart").locator("g.point")
    expect(bars).to_have_count(6)  # 3 classes x (train, val)
    mean = page.get_by_test_id("mean-image")
    expect(mean).to_be_visible()
    assert page.evaluate("(img) => img.naturalWidth", mean.element_handle()) == 16
    expect(page.get_by_test_id("db-train").locator(".count")).to_have_text("18")
    screenshot("dataset-page")


def test_with_accounts_a_person_logs_in_with_a_password_and_the_page_works(page, jobs_dir):
    """Forms carry their CSRF token and page scripts send it: create a dataset, then delete it."""
    from digits.accounts import Accounts

    Accounts(jobs_dir).add("fred", "fred's password")
    train = make_class_folders(data_roots_of(jobs_dir) / "colors", per_class=4)
    running = Server(jobs_dir)
    try:
        page.goto(running.url + "/login")
        page.get_by_label("Username").fill("fred")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("login-error")).to_have_text("wrong username or password")
        page.get_by_label("Username").fill("fred")
        page.get_by_label("Password").fill("fred's password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("username")).to_have_text("fred")
        page.get_by_role("link", name="Images → Classification").click()
        page.get_by_label("Training images").fill(str(train))
        page.get_by_label("Dataset name").fill("colors")
        page.get_by_test_id("create").click()
        expect(page.get_by_test_id("status")).to_have_text("Done", timeout=30000)
        # Reloaded with its results, and the page's scripts have run (they draw the chart).
        expect(page.get_by_test_id("class-chart").locator(".main-svg").first).to_be_visible()
        expect(page.get_by_test_id("resume")).to_be_hidden()  # nothing to resume when Done
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_test_id("delete").click()
        expect(page.get_by_test_id("datasets-table")).to_be_attached()
        expect(page.get_by_text("No datasets yet.")).to_be_visible()
    finally:
        running.discard()
