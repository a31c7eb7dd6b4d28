"""A person imports a model archive, classifies an image with it, and fine-tunes it on a dataset
of their own, in Chromium."""

import io
import json
import tarfile

import pytest
import torch
from playwright.sync_api import expect

from digits.models import catalog, networks
from tests.support.api import build_dataset, finished
from tests.support.imagesets import make_class_folders
from tests.support.processes import Server, data_roots_of


def model_archive(path) -> None:
    """An archive as Download makes it: LeNet for 28x28 colour images of three classes."""
    torch.manual_seed(0)
    weights = io.BytesIO()
    torch.save(networks.create("lenet", 3, 3, 28, 28).state_dict(), weights)
    info = {"labels": ["blue", "green", "red"], "channels": 3, "height": 28, "width": 28}
    info |= {"resize_mode": "squash", "crop_size": None, "mean_mode": "none", "epoch": 5}
    files = {
        "weights.pt": weights.getvalue(),
        "network.py": catalog.standalone_source("lenet").encode(),
        "labels.txt": b"blue\ngreen\nred\n",
        "info.json": json.dumps(info).encode(),
    }
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))


@pytest.fixture
def server_with_dataset(jobs_dir):
    folder = make_class_folders(data_roots_of(jobs_dir) / "two", ("red", "blue"), 8, (28, 28))
    server = Server(jobs_dir)
    try:
        dataset = build_dataset(server, folder, "two colours")
        assert finished(server, dataset)["status"] == "Done"
        server.folder = folder
        yield server
    finally:
        server.discard()


def test_import_classify_and_fine_tune(page, server_with_dataset, tmp_path, trouble, screenshot):
    server = server_with_dataset
    model_archive(tmp_path / "lenet.tar.gz")
    page.goto(server.url + "/login")
    page.get_by_label("Username").fill("fred")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("tab", name="Models").click()
    page.get_by_role("link", name="Import a model").click()
    form = page.get_by_test_id("import-archive")
    form.get_by_label("Archive file").set_input_files(str(tmp_path / "lenet.tar.gz"))
    form.get_by_label("Name (blank: the archive's)").fill("lenet from elsewhere")
    page.get_by_test_id("import").click()

    expect(page.get_by_test_id("job-name")).to_have_text("lenet from elsewhere")
    expect(page.get_by_test_id("status")).to_have_text("Done", timeout=20000)
    expect(page.get_by_test_id("imported")).to_contain_text("3: blue, green, red")
    model_url = page.url
    page.goto(model_url)  # as it is once Done (a page open while it ran reloads when it ends)
    page.get_by_role("button", name="Visualize").click()  # its own code, tried on a worker
    # (in a child process of its own: a few seconds to start)
    expect(page.get_by_test_id("visualization")).to_contain_text("parameters", timeout=30000)
    expect(page.get_by_test_id("network-graph").locator("canvas").first).to_be_attached()
    screenshot("imported-model")
    page.goto(server.url + "/?tab=models")
    expect(page.get_by_role("link", name="lenet from elsewhere")).to_be_visible()

    page.goto(model_url)
    one = page.get_by_test_id("classify-one-form")
    one.get_by_label("Upload an image").set_input_files(str(server.folder / "red" / "001.png"))
    page.get_by_test_id("classify-one").click()
    expect(page.get_by_test_id("predictions").locator("tbody tr")).to_have_count(3)

    page.goto(model_url)
    page.get_by_test_id("fine-tune").click()
    expect(page.locator("input[name=method][value=pretrained]")).to_be_checked()
    page.get_by_label("Training epochs").fill("2")
    page.get_by_label("Freeze the pretrained layers").fill("1")
    page.get_by_label("Model name").fill("tuned")
    page.get_by_test_id("create").click()
    expect(page.get_by_test_id("job-name")).to_have_text("tuned")
    expect(page.get_by_test_id("status")).to_have_text("Done", timeout=90000)
    expect(page.get_by_test_id("training")).to_contain_text("2 classes")
    assert trouble == []
