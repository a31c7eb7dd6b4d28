"""A person creates a model from the form, watches its chart grow to Done, and classifies
images with it, one and many."""

import pytest
import requests
from playwright.sync_api import expect

from tests.support.imagesets import make_class_folders
from tests.support.processes import Server, data_roots_of, wait_until


@pytest.fixture
def server_with_dataset(jobs_dir):
    train = make_class_folders(data_roots_of(jobs_dir) / "colors", per_class=30, size=(28, 28))
    running = Server(jobs_dir)
    running.data = data_roots_of(jobs_dir)
    try:
        response = requests.post(
            running.url + "/datasets/images/classification.json",
            data={
                "username": "fred",
                "method": "folder",
                "folder_train": str(train),
                "resize_width": "28",
                "resize_height": "28",
                "dataset_name": "colors",
            },
        )
        dataset = response.json()["id"]
        wait_until(
            lambda: (
                requests.get(f"{running.url}/datasets/{dataset}/status").json()["status"] == "Done"
            ),
            60,
        )
        yield running
    finally:
        running.discard()


def test_create_a_model_and_watch_the_chart_grow(
    page, server_with_dataset, tmp_path, trouble, screenshot
):
    server = server_with_dataset
    page.goto(server.url + "/login")
    page.get_by_label("Username").fill("fred")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("tab", name="Models").click()
    page.locator("[data-panel=models]").get_by_role("link", name="Images → Classification").click()
    page.wait_for_load_state()  # the form's script runs after Plotly has loaded

    page.get_by_label("Training epochs").fill("6")
    page.get_by_label("Base learning rate").fill("0.05")
    page.get_by_role("button", name="Visualize").click()
    expect(page.get_by_test_id("visualization")).to_contain_text("parameters")
    expect(page.get_by_test_id("network-graph").locator("canvas").first).to_be_attached()
    assert int(page.get_by_test_id("network-graph").get_attribute("data-nodes")) >= 9
    page.get_by_role("button", name="Customize").click()
    expect(page.locator(".CodeMirror")).to_contain_text("def network(")
    page.get_by_role("button", name="Visualize").click()  # the copied code, as a custom network
    expect(page.get_by_test_id("visualization")).to_contain_text("parameters")
    page.locator("input[name=method][value=standard]").check()
    page.get_by_label("Model name").fill("lenet colors")
    page.get_by_test_id("create").click()

    expect(page.get_by_test_id("job-name")).to_have_text("lenet colors")
    model_url = page.url
    page.evaluate("window.notReloaded = true")
    chart = page.get_by_test_id("metrics-chart")
    # While it trains, each snapshot joins the list and the Classify forms, with no reload.
    expect(page.get_by_test_id("snapshots")).to_contain_text("epoch 1", timeout=60000)
    expect(page.get_by_test_id("classify-one-form")).to_be_visible()
    expect(page.locator("#classify-snapshot option[value='1']")).to_be_attached()
    assert page.evaluate("window.notReloaded") is True
    page.wait_for_function(
        "() => Number(document.querySelector('[data-role=metrics-chart]').dataset.points) > 2",
        timeout=60000,
    )
    expect(page.get_by_test_id("status")).to_have_text("Done", timeout=90000)
    expect(page.get_by_test_id("snapshots")).to_contain_text("epoch 6")
    # Probe images grew a cell per validation, live: 4 images x 6 epochs.
    expect(page.get_by_test_id("probe-strip")).to_have_count(4)
    expect(page.get_by_test_id("probe")).to_have_count(24)
    expect(chart.locator(".main-svg").first).to_be_visible()
    expect(page.get_by_test_id("confusion-matrix").locator(".main-svg").first).to_be_visible()
    screenshot("model-page")

    # Classify One with the finished model, looking inside the network.
    image = server.data / "colors" / "green" / "004.png"
    form = page.get_by_test_id("classify-one-form")
    form.get_by_label("Upload an image").set_input_files(str(image))
    form.get_by_label("Show visualizations and statistics").check()
    page.get_by_test_id("classify-one").click()
    predictions = page.get_by_test_id("predictions").locator("tbody tr")
    expect(predictions).to_have_count(3)
    expect(predictions.first.locator("td").first).to_have_text("green")
    layers = page.get_by_test_id("layer")
    expect(layers).to_have_count(8)  # LeNet's leaf layers
    expect(layers.first).to_contain_text("Conv2d")
    expect(layers.first.get_by_test_id("weights").locator("img")).to_be_visible()
    expect(layers.first.locator("[data-histogram] .main-svg").first).to_be_visible()
    assert page.get_by_test_id("network-view").evaluate("img => img.naturalWidth") == 28
    expect(page.get_by_test_id("saliency")).to_be_visible()
    screenshot("classify-one")

    # Classify Many from the model page: a list of every training image with its label.
    listing = tmp_path / "all.txt"
    paths = sorted((server.data / "colors").glob("*/*.png"))
    listing.write_text("".join(f"{p.parent.name}/{p.name} {p.parent.name}\n" for p in paths))
    page.goto(model_url)
    many = page.get_by_test_id("classify-many-form")
    many.get_by_label("A list of images").set_input_files(str(listing))
    many.get_by_label("Folder for relative paths").fill(str(server.data / "colors"))
    page.get_by_test_id("classify-many").click()
    expect(page.get_by_test_id("run-of")).to_have_text("lenet colors")  # an inference run
    expect(page.get_by_test_id("accuracy")).to_contain_text(
        "over 90 labelled images", timeout=60000
    )
    images = page.get_by_test_id("classified-images").locator("tbody tr")
    expect(images).to_have_count(50)  # a page at a time
    expect(page.get_by_test_id("page-range")).to_have_text("1–50 of 90")
    expect(page.get_by_test_id("top-n").first.locator("img")).to_have_count(9)
    screenshot("classify-many")
    page.get_by_test_id("next-page").click()
    expect(images).to_have_count(40)
    page.get_by_test_id("run-of").click()  # back to the model, which lists its runs
    expect(page.get_by_test_id("inference-runs")).to_contain_text("Classify Many with lenet colors")
    assert trouble == []
