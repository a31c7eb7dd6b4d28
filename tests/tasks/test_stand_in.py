"""The Task contract holds: a kind of problem that lives in a folder of its own
(tests/support/colour_task, a brightness histogram learnt from the images alone, judged by its
own metric) and is registered as a plugin trains, validates with its metric, keeps its best
snapshot by it, answers Infer One and Infer Many, shows its views, and downloads as an archive
whose example script gives the server's answers, with nothing outside its folder knowing it."""

import json
import re
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import requests
from PIL import Image

from digits.models.layout import list_snapshots
from tests.support.api import created, finished, post
from tests.support.processes import PLUGIN, REPOSITORY, Server, data_roots_of

STAND_IN = "tests.support.colour_task"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    jobs_dir = tmp_path_factory.mktemp("stand-in") / "jobs"
    data_roots_of(jobs_dir).mkdir(parents=True)
    running = Server(jobs_dir, env={"DIGITS_PLUGINS": f"{PLUGIN},{STAND_IN}"})
    running.jobs_dir, running.data = jobs_dir, data_roots_of(jobs_dir)
    yield running
    running.discard()


def brightness_images(root, count=48, size=8):
    """Gray images in two folders (the folder method's classes, which the task ignores), each
    a mix of a dark and a light part: their histograms differ. The first folder."""
    rng = np.random.default_rng(0)
    for n in range(count):
        pixels = np.full((size, size), 20, np.uint8)
        pixels[: n % size] = 230
        pixels += rng.integers(0, 10, pixels.shape, dtype=np.uint8)
        folder = root / "ab"[n % 2]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels, "L").save(folder / f"{n:03d}.png")
    return root / "a"


def test_a_task_registered_as_a_plugin_does_everything_a_built_in_one_does(server, tmp_path):
    images = brightness_images(server.data / "photos")
    dataset = created(
        post(
            server,
            "/datasets/images/colour-histogram.json",
            dataset_name="bands",
            method="folder",
            folder_train=str(images.parent),
            folder_pct_val="25",
            resize_width="8",
            resize_height="8",
            resize_channels="1",
        )
    )
    assert finished(server, dataset)["status"] == "Done"
    model = created(
        post(
            server,
            "/models/images/generic.json",  # DIGITS' route for every task but classification
            dataset=dataset,
            model_name="bands",
            method="custom",
            custom_network="from torch import nn\n"
            "def network(n, c, h, w):\n"
            "    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, n))\n",
            train_epochs="6",
            batch_size="8",
            solver_type="ADAM",
            learning_rate="0.01",
            use_mean="none",
            snapshot_keep="1",
            random_seed="1",
        )
    )
    job = finished(server, model, timeout=240)
    assert job["status"] == "Done", job.get("error")

    # Validated with its own metric, and "best" is judged by it alone.
    details = requests.get(f"{server.url}/models/{model}.json").json()
    assert details["task"] == "colour-histogram" and details["labels"][0] == "dark"
    rows = [r for r in details_metrics(server, model) if "val_intersection" in r]
    best = max(rows, key=lambda r: r["val_intersection"])
    assert details["best"]["epoch"] == best["epoch"] and best["val_intersection"] > 60
    kept = list_snapshots(server.jobs_dir / model)
    assert best["epoch"] in kept and len(kept) <= 2  # the best and the last

    # Its answer, as JSON and on a page drawn by its own view.
    image = images / "006.png"
    answer = post(
        server, "/models/images/generic/infer_one.json", job_id=model, image_path=str(image)
    ).json()
    assert set(answer.get("histogram", ())) == {"dark", "dim", "bright", "light"}, answer
    assert sum(answer["histogram"].values()) == pytest.approx(1.0, abs=1e-4)
    page = post(server, "/models/images/generic/infer_one", job_id=model, image_path=str(image))
    assert page.status_code == 200 and 'data-role="histogram"' in page.text
    model_page = requests.get(f"{server.url}/models/{model}").text
    assert "a histogram of 4 brightness bands" in model_page
    assert "histogram intersection" in model_page

    # Infer Many collects what it says it does.
    listing = "".join(f"{p}\n" for p in sorted(images.glob("*.png"))[:5])
    many = post(
        server,
        "/models/images/generic/infer_many.json",
        files={"image_list": ("list.txt", listing)},
        job_id=model,
    ).json()
    assert len(many.get("histograms", ())) == 5, many

    # The download runs elsewhere with its own example script, giving the server's answer.
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(requests.get(f"{server.url}/models/{model}/download.tar.gz").content)
    unpacked = tmp_path / "model"
    with tarfile.open(archive) as packed:
        packed.extractall(unpacked, filter="data")
    printed = subprocess.run(
        [sys.executable, "example.py", str(image)],
        cwd=unpacked,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    elsewhere = json.loads(printed)["histogram"]
    for band, share in answer["histogram"].items():
        assert elsewhere[band] == pytest.approx(share, abs=1e-5)


def details_metrics(server, model):
    text = (server.jobs_dir / model / "metrics.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_nothing_outside_its_folder_names_the_stand_in_task():
    """Its folder and its registration (the plugin list a server is started with) only: no
    code of the product or of the other tests knows of it (the docs point to it as an example)."""
    outside = [
        path
        for folder in ("digits", "tests", "examples", "benchmarks", "scripts")
        for path in (REPOSITORY / folder).glob("**/*")
        if path.is_file()
        and path.suffix in (".py", ".html", ".js", ".toml", "")
        and "colour_task" not in path.parts
        and path.name != "test_stand_in.py"
        and re.search(r"colour.histogram|colour_task", path.read_text(errors="replace"))
    ]
    assert outside == []
