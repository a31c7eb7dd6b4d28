"""Generic ("Other") jobs through the JSON API, as DIGITS' scripts used them: a CSV of values per
image into a dataset, a model that learns them (regression), Infer One and Infer Many."""

import csv
import io
import re
import zipfile

import numpy as np
import pytest
import requests
from PIL import Image

from tests.support.api import created, finished, post, train
from tests.support.imagesets import make_class_folders, make_value_images
from tests.support.venvs import run_outside, venv_with

DATASETS = "/datasets/images/generic.json"
MODELS = "/models/images/generic.json"


@pytest.fixture(scope="module")
def values(server):
    """80 gray images 28x28 whose brightness (and 1 - brightness) is the value to learn."""
    folder = server.data / "bright"
    return folder, make_value_images(folder, count=80, size=28)


def new_dataset(server, values, **fields):
    folder, table = values
    defaults = {
        "csv_folder": str(folder),
        "resize_width": "28",
        "resize_height": "28",
        "resize_channels": "1",
        "dataset_name": "bright",
    }
    return post(server, DATASETS, files={"csv_train": ("values.csv", table)}, **defaults | fields)


@pytest.fixture(scope="module")
def dataset(server, values) -> str:
    job_id = created(new_dataset(server, values))
    assert finished(server, job_id)["status"] == "Done"
    return job_id


def train_values(server, dataset: str, **fields) -> str:
    """A generic model learning the values (LeNet, Adam 0.001, no mean), trained to Done."""
    settings = {
        "method": "standard",
        "standard_networks": "lenet",
        "dataset": dataset,
        "model_name": "brightness",
        "train_epochs": "15",
        "batch_size": "16",
        "solver_type": "ADAM",
        "learning_rate": "0.001",
        "use_mean": "none",
        "random_seed": "1",
    }
    job_id = created(post(server, MODELS, **settings | fields))
    job = finished(server, job_id, timeout=300)
    assert job["status"] == "Done", job["error"]
    return job_id


@pytest.fixture(scope="module")
def model(server, dataset) -> str:
    return train_values(server, dataset)


def truth(path) -> list[float]:
    level = float(np.asarray(Image.open(path)).mean())
    return [level / 255, 1 - level / 255]


def test_a_csv_of_values_makes_a_dataset_of_images_and_their_outputs(server, dataset):
    job = requests.get(f"{server.url}/datasets/{dataset}.json").json()
    assert job["type"] == "image-generic-dataset"
    assert job["outputs"] == ["brightness", "darkness"]  # from the CSV's header
    entries = {t["name"]: t["entries"] for t in job["CreateDbTasks"]}
    assert entries == {"Create DB (train)": 60, "Create DB (val)": 20}  # 25% for validation
    brightness = job["output_statistics"]["train"][0]
    assert brightness["name"] == "brightness" and 0.05 < brightness["min"] < brightness["max"] < 1
    assert sum(brightness["histogram"]["counts"]) == 60
    page = requests.get(f"{server.url}/datasets/{dataset}")
    assert page.status_code == 200 and 'data-role="output-statistics"' in page.text
    explore = f"{server.url}/datasets/images/classification/explore.json?job_id={dataset}&db=val"
    items = requests.get(explore).json()["items"]
    assert len(items) == 20 and set(items[0]["values"]) == {"brightness", "darkness"}
    assert sum(items[0]["values"].values()) == pytest.approx(1.0, abs=1e-3)
    gallery = requests.get(explore.replace(".json", ""))
    assert gallery.status_code == 200 and "brightness 0." in gallery.text


@pytest.mark.parametrize(
    ("table", "fields", "field"),
    [
        ("path,a,b\nimg_000.png,1\n", {}, "csv_train"),  # a value missing
        ("img_000.png,nan\n", {}, "csv_train"),  # not a finite number
        (None, {}, "csv_train"),  # no CSV at all
        ("img_000.png,1\n", {"csv_folder": "/etc"}, "csv_folder"),  # outside the data roots
        ("img_000.png,1\n", {"resize_width": "0"}, "resize_width"),
    ],
)
def test_a_bad_submission_is_a_400_naming_the_field(server, values, table, fields, field):
    folder, _ = values
    files = {"csv_train": ("values.csv", table)} if table else None
    base = {"csv_folder": str(folder), "dataset_name": "bad", "resize_width": "28"}
    response = post(server, DATASETS, files=files, **base | fields)
    assert response.status_code == 400, response.text
    assert field in response.json()["errors"]


def test_classification_and_generic_forms_each_refuse_the_others_datasets(server, dataset):
    common = {"method": "standard", "standard_networks": "lenet", "model_name": "m"}
    refused = post(server, "/models/images/classification.json", dataset=dataset, **common)
    assert refused.status_code == 400
    assert refused.json()["errors"]["dataset"] == ["bright is not an image classification dataset"]
    bad_loss = post(server, MODELS, dataset=dataset, loss="cosine", **common)
    assert bad_loss.status_code == 400 and "loss" in bad_loss.json()["errors"]


def test_a_generic_model_learns_the_values(server, model):
    job = requests.get(f"{server.url}/models/{model}.json").json()
    assert job["generic"] and job["outputs"] == ["brightness", "darkness"]
    assert job["loss"] == "l2"
    best = job["best"]
    assert best["val_mae"] < 0.05, best  # of values spread over 0.08 .. 0.92
    assert {"val_mse", "val_mae:brightness", "val_mae:darkness"} <= set(best)
    page = requests.get(f"{server.url}/models/{model}")
    assert page.status_code == 200 and "2 outputs (brightness, darkness), L2 loss" in page.text


def test_infer_one_answers_the_values_in_digits_shape(server, model, values):
    folder, _ = values
    path = folder / "img_040.png"
    answer = post(
        server, "/models/images/generic/infer_one.json", job_id=model, image_path=str(path)
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    [outputs] = body["outputs"]["output"]
    assert outputs == pytest.approx(truth(path), abs=0.1)
    assert [name for name, _ in body["values"]] == ["brightness", "darkness"]
    assert body["device"] == "cpu"
    # A generic model is not a classifier, and the other way round: each route says where to go.
    wrong = post(
        server,
        "/models/images/classification/classify_one.json",
        job_id=model,
        image_path=str(path),
    )
    assert wrong.status_code == 400
    assert "generic/infer_one" in wrong.json()["errors"]["job_id"][0]


def test_infer_many_with_known_values_gives_each_outputs_error(server, model, values):
    folder, _ = values
    paths = sorted(folder.glob("img_0[0-3]*.png"))
    listing = "path,brightness,darkness\n" + "".join(
        f"{p},{truth(p)[0]:.4f},{truth(p)[1]:.4f}\n" for p in paths
    )
    answer = post(
        server,
        "/models/images/generic/infer_many.json",
        job_id=model,
        files={"image_list": ("list.csv", listing)},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["outputs"]) == len(paths)
    got = body["outputs"][str(paths[5])]["output"]
    assert got == pytest.approx(truth(paths[5]), abs=0.1)
    assert body["output_names"] == ["brightness", "darkness"]
    errors = body["target_errors"]
    assert errors["count"] == len(paths) and errors["mae"]["brightness"] < 0.1
    table = requests.get(f"{server.url}/jobs/{body['job_id']}/outputs.csv")
    rows = list(csv.reader(io.StringIO(table.text)))
    assert rows[0] == ["path", "brightness", "darkness", "brightness (known)", "darkness (known)"]
    assert len(rows) == len(paths) + 1 and float(rows[6][1]) == pytest.approx(got[0])
    page = requests.get(f"{server.url}/models/{body['job_id']}")
    assert page.status_code == 200 and 'data-role="target-errors"' in page.text


@pytest.mark.parametrize("runtime", ["torchscript", "onnx"])
def test_the_download_gives_the_servers_values_elsewhere(server, model, values, runtime, tmp_path):
    folder, _ = values
    paths = [folder / "img_010.png", folder / "img_070.png"]
    expected = {
        str(p): post(
            server, "/models/images/generic/infer_one.json", job_id=model, image_path=str(p)
        ).json()["values"]
        for p in paths
    }
    runtime_package = "torch" if runtime == "torchscript" else "onnxruntime"
    python = venv_with(tmp_path / "env", [runtime_package, "numpy", "pillow"])
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(requests.get(f"{server.url}/models/{model}/download.tar.gz").content)
    flags = ["--onnx"] if runtime == "onnx" else []
    printed = run_outside(python, "use_archive.py", archive, *paths, *flags)
    for block in printed.strip().split("\n\n"):
        header, *lines = block.strip().splitlines()
        path = re.fullmatch(r"--- Prediction for (.+) ---", header).group(1)
        got = [re.fullmatch(r'(-?[\d.]+) - "(.+)"', line).groups() for line in lines]
        assert [name for _, name in got] == [name for name, _ in expected[path]]
        for (value, _), (_, want) in zip(got, expected[path], strict=True):
            assert float(value) == pytest.approx(want, abs=1e-5)


def test_a_generic_model_fine_tunes_from_a_classifier_its_head_replaced(server, dataset, values):
    colors = make_class_folders(server.data / "gray colors", per_class=12, size=(28, 28))
    classes = created(
        post(
            server,
            "/datasets/images/classification.json",
            method="folder",
            folder_train=str(colors),
            resize_channels="1",
            resize_width="28",
            resize_height="28",
            dataset_name="gray colors",
        )
    )
    assert finished(server, classes)["status"] == "Done"
    classifier = train(server, classes, train_epochs="1", batch_size="8")
    assert finished(server, classifier)["status"] == "Done"
    tuned = train_values(
        server, dataset, method="previous", previous_networks=classifier, train_epochs="6"
    )
    job = requests.get(f"{server.url}/models/{tuned}.json").json()
    assert job["outputs"] == ["brightness", "darkness"] and job["best"]["val_mae"] < 0.2
    folder, _ = values
    answer = post(
        server,
        "/models/images/generic/infer_one.json",
        job_id=tuned,
        image_path=str(folder / "img_050.png"),
    )
    assert len(answer.json()["outputs"]["output"][0]) == 2  # two values, not three classes


def test_images_may_come_in_an_uploaded_archive(server, values, tmp_path):
    folder, table = values
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for image in sorted(folder.glob("img_00*.png")):
            z.write(image, f"shots/{image.name}")
    rows = [f"shots/{line}" for line in table.splitlines() if line.startswith("img_00")]
    with open(archive, "rb") as data:
        response = post(
            server,
            DATASETS,
            files={
                "csv_train": ("values.csv", "\n".join(rows) + "\n"),
                "upload_archive": ("images.zip", data),
            },
            resize_width="28",
            resize_height="28",
            folder_pct_val="20",
            dataset_name="uploaded",
        )
    job = finished(server, created(response))
    assert job["status"] == "Done", job["error"]
    detail = requests.get(f"{server.url}/datasets/{job['id']}.json").json()
    assert detail["outputs"] == ["y1", "y2"]  # no header in this CSV
    assert sum(t["entries"] for t in detail["CreateDbTasks"]) == 10
