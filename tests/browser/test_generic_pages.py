"""A person builds a generic (Other) dataset from a CSV of values, trains a regression model on
it from the form, and infers one image and many, in a real browser."""

import pytest
from playwright.sync_api import expect

from tests.support.imagesets import make_value_images
from tests.support.processes import Server, data_roots_of


@pytest.fixture
def server(jobs_dir):
    running = Server(jobs_dir)
    running.data = data_roots_of(jobs_dir)
    try:
        yield running
    finally:
        running.discard()


def test_values_from_a_csv_to_a_model_to_inferences(page, server, tmp_path, trouble, screenshot):
    folder = server.data / "bright"
    table = tmp_path / "values.csv"
    table.write_text(make_value_images(folder, count=60, size=28))
    page.goto(server.url + "/login")
    page.get_by_label("Username").fill("fred")
    page.get_by_role("button", name="Log in").click()
    page.goto(server.url + "/datasets/images/generic/new")
    page.get_by_label("Image type").select_option("1")
    page.get_by_label("Width").fill("28")
    page.get_by_label("Height").fill("28")
    page.locator("input[name=csv_train]").set_input_files(table)
    page.get_by_label("Folder on the server that relative paths are in").fill(str(folder))
    page.get_by_label("Dataset name").fill("brightness")
    screenshot("generic-dataset-form")
    page.get_by_test_id("create").click()

    expect(page.get_by_test_id("status")).to_have_text("Done", timeout=60000)
    page.reload()  # the finished page draws the outputs' distributions
    expect(page.get_by_test_id("output-statistics")).to_contain_text("darkness")
    expect(page.get_by_test_id("output-histograms").locator(".main-svg").first).to_be_attached()
    screenshot("generic-dataset")

    page.goto(server.url + "/models/images/generic/new")
    expect(page.locator("h1")).to_have_text("New generic model")
    page.get_by_label("Training epochs").fill("10")
    page.get_by_label("Base learning rate").fill("0.001")
    page.get_by_label("Solver", exact=True).select_option("ADAM")
    page.get_by_label("Loss").select_option("l1")
    page.get_by_label("Model name").fill("brightness model")
    page.get_by_test_id("create").click()

    expect(page.get_by_test_id("status")).to_have_text("Done", timeout=120000)
    # The page reloads itself once Done (to draw the results): load it now, as it is once Done,
    # so that the reload cannot come between choosing a file and classifying it (it did in CI).
    page.goto(page.url)
    expect(page.get_by_test_id("training")).to_contain_text("2 outputs (brightness, darkness)")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-role=metrics-chart]').dataset.points) > 2"
    )
    screenshot("generic-model")
    model_url = page.url

    page.locator("#classify-file").set_input_files(folder / "img_030.png")
    page.get_by_test_id("classify-one").click()
    expect(page.locator("h1")).to_have_text("Infer One")
    expect(page.get_by_test_id("values")).to_contain_text("brightness")
    screenshot("generic-infer-one")

    page.goto(model_url)
    listing = tmp_path / "list.csv"
    listing.write_text(
        "".join(
            f"{folder / f'img_{n:03d}.png'},{line.split(',')[1]},{line.split(',')[2]}\n"
            for n, line in enumerate(table.read_text().splitlines()[1:])
            if n % 5 == 0
        )
    )
    page.locator("#many-list").set_input_files(listing)
    page.get_by_test_id("classify-many").click()
    expect(page.get_by_test_id("status")).to_have_text("Done", timeout=60000)
    page.reload()
    expect(page.get_by_test_id("target-errors")).to_contain_text("brightness")
    expect(page.get_by_test_id("predicted-vs-known")).to_have_attribute("data-points", "12")
    expect(page.get_by_test_id("classified-images").locator("tbody tr")).to_have_count(12)
    screenshot("generic-infer-many")
    assert trouble == []
