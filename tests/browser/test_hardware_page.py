"""A person sees the Hardware page and a training job's GPU panels follow the (fake) GPUs."""

import re

import requests
from playwright.sync_api import expect

from tests.support.api import created
from tests.support.api import post as api_post
from tests.support.fake_gpus import write_fake_gpus
from tests.support.imagesets import make_class_folders
from tests.support.processes import Server, data_roots_of, wait_until


def post(server, path, **fields) -> str:
    return created(api_post(server, path, **fields))


def test_hardware_page_and_a_jobs_gpu_panel_update_live(page, jobs_dir, tmp_path, screenshot):
    gpus = write_fake_gpus(tmp_path / "gpus.json", count=2, utilization=42)
    server = Server(jobs_dir, env={"DIGITS_FAKE_GPUS": str(gpus)})
    model = None
    try:
        folder = make_class_folders(data_roots_of(jobs_dir) / "colors", per_class=8, size=(16, 16))
        dataset = post(
            server,
            "/datasets/images/classification.json",
            method="folder",
            folder_train=str(folder),
            resize_width="28",
            resize_height="28",
            dataset_name="colors",
        )
        model = post(
            server,
            "/models/images/classification.json",
            method="standard",
            standard_networks="lenet",
            train_epochs="10000",
            dataset=dataset,
            model_name="on gpu 1",
            batch_size="4",
            select_gpus="1",
        )
        wait_until(lambda: requests.get(f"{server.url}/models/{model}.json").json()["gpus"], 60)

        page.goto(server.url + "/hardware")
        rows = page.get_by_test_id("gpu")
        expect(rows).to_have_count(2)
        expect(rows.nth(1).locator("[data-field=holder]")).to_have_text("on gpu 1", timeout=10000)
        expect(rows.nth(0).locator("[data-field=holder]")).to_have_text("free")
        expect(rows.nth(1).locator("[data-field=utilization]")).to_have_text("42 %")
        expect(page.get_by_test_id("running-jobs")).to_contain_text("on gpu 1")
        write_fake_gpus(gpus, count=2, utilization=77)
        expect(rows.nth(1).locator("[data-field=utilization]")).to_have_text("77 %", timeout=10000)

        page.get_by_role("link", name="on gpu 1").first.click()
        panel = page.locator("[data-role=usage-panel][data-key=gpu1]")
        expect(panel.locator("h3")).to_have_text("GPU 1 · NVIDIA H100 80GB HBM3", timeout=10000)
        expect(panel.locator("[data-field=utilization]")).to_have_text("77 %")
        write_fake_gpus(gpus, count=2, utilization=88)
        expect(panel.locator("[data-field=utilization]")).to_have_text("88 %", timeout=10000)
        processes = page.locator("[data-role=usage-panel][data-key=processes]")
        expect(processes.locator("[data-field=memory]")).to_have_text(re.compile(r"[\d.]+ [MG]iB"))
        expect(page.locator("[data-role=usage-panel][data-key=gpu0]")).to_have_count(0)
        screenshot("gpu-panels")
        abort = requests.post(f"{server.url}/models/{model}/abort.json", data={"username": "fred"})
        assert abort.status_code == 200
        expect(page.get_by_test_id("status")).to_have_text("Aborted", timeout=30000)
    finally:
        if model:  # an endless training would outlive the server (its worker finishes it first)
            requests.post(f"{server.url}/models/{model}/abort.json", data={"username": "fred"})
            wait_until(
                lambda: (
                    requests.get(f"{server.url}/models/{model}.json").json()["status"]
                    in ("Aborted", "Error", "Done")
                ),
                30,
            )
        server.discard()
