"""Classify One through the real path: the web server asks a worker of queue `infer`."""

import numpy as np
import pytest
import requests
import torch
from imagesets import make_class_folders

from digits.datasets.build import _Settings, prepare_image
from digits.models import networks
from digits.models.preprocessing import Preprocessing

from .conftest import finished

CLASSIFY = "/models/images/classification/classify_one.json"


def post(server, path, files=None, **fields) -> requests.Response:
    return requests.post(server.url + path, data={"username": "fred", **fields}, files=files)


@pytest.fixture(scope="module")
def model(server) -> dict:
    """LeNet trained 2 epochs on 32x32 crops of wider images, 28x28 crop, mean image."""
    folder = make_class_folders(server.data / "colors", per_class=20, size=(40, 30))
    dataset = post(server, "/datasets/images/classification.json", method="folder",
                   folder_train=str(folder), folder_pct_val="25", resize_width="32",
                   resize_height="32", resize_mode="crop", dataset_name="colors")  # fmt: skip
    dataset = dataset.json()["id"]
    assert finished(server, dataset)["status"] == "Done"
    job_id = post(server, "/models/images/classification.json", method="standard",
                  standard_networks="lenet", train_epochs="2", batch_size="8", crop_size="28",
                  learning_rate="0.02", dataset=dataset, model_name="lenet")  # fmt: skip
    job_id = job_id.json()["id"]
    assert finished(server, job_id)["status"] == "Done"
    return {"id": job_id, "dataset": dataset, "folder": folder}


def validation_scores(server, model, path) -> list:
    """What the trainer's own validation code makes of the file: the dataset's pixels, the
    trainer's Preprocessing, the snapshot's network, softmax."""
    jobs = server.jobs_dir
    settings = _Settings(32, 32, 3, "crop", "png", 0, (server.data,))
    pixels = prepare_image(str(path), (1, 0), settings)
    snapshot = torch.load(jobs / model["id"] / "snapshot_epoch_2.pt", weights_only=True)
    network = networks.create("lenet", 3, 3, 28, 28)
    network.load_state_dict(snapshot["model"])
    preprocess = Preprocessing("image", np.load(jobs / model["dataset"] / "mean.npy"), 28)
    with torch.no_grad():
        batch = torch.from_numpy(pixels.transpose(2, 0, 1).copy())[None]
        probabilities = torch.softmax(network.eval()(preprocess(batch)), 1)[0]
    order = probabilities.argsort(descending=True)
    return [[snapshot["labels"][i], float(probabilities[i])] for i in order]


def test_classify_one_gives_what_validation_gives(server, model):
    path = model["folder"] / "green" / "007.png"
    with open(path, "rb") as f:
        response = post(server, CLASSIFY, files={"image_file": ("x.png", f)}, job_id=model["id"])
    assert response.status_code == 200, response.text
    answer = response.json()
    expected = validation_scores(server, model, path)
    assert [label for label, _ in answer["scores"]] == [label for label, _ in expected]
    for (_, got), (_, want) in zip(answer["scores"], expected, strict=True):
        assert got == pytest.approx(want, abs=1e-6)
    assert answer["predictions"][0] == [expected[0][0], round(expected[0][1] * 100, 2)]
    assert answer["epoch"] == 2 and answer["image"].startswith("data:image/png;base64,")

    by_path = post(server, CLASSIFY, job_id=model["id"], image_path=str(path),
                   snapshot_epoch="1").json()  # fmt: skip
    assert by_path["epoch"] == 1 and len(by_path["predictions"]) == 3


def test_visualizations_cover_every_layer_with_a_saliency_map(server, model):
    path = model["folder"] / "red" / "003.png"
    answer = post(server, CLASSIFY, job_id=model["id"], image_path=str(path),
                  show_visualizations="1").json()  # fmt: skip
    layers = answer["visualizations"]
    assert [layer["kind"] for layer in layers] == [
        "Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear"
    ]  # fmt: skip
    conv = layers[0]
    assert conv["parameters"] == 3 * 20 * 25 + 20
    assert conv["activations"]["shape"] == [20, 24, 24]
    for part in (conv["weights"], conv["activations"]):
        assert part["image"].startswith("data:image/png") and part["min"] <= part["mean"]
        assert sum(part["histogram"]["counts"]) > 0
    assert answer["saliency"]["label"] == answer["predictions"][0][0]


@pytest.mark.parametrize(
    ("fields", "upload", "field"),
    [
        ({"job_id": "20200101-000000-0000"}, None, "job_id"),
        ({}, ("notes.txt", b"not an image at all"), "image_file"),
        ({}, ("empty.png", b""), "image_file"),
        ({"snapshot_epoch": "7"}, None, "snapshot_epoch"),
        ({"snapshot_epoch": "x"}, None, "snapshot_epoch"),
        ({"image_path": "/etc/passwd"}, None, "image_path"),
        ({"image_path": "relative.png"}, None, "image_path"),
        ({}, None, "image_file"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(server, model, fields, upload, field):
    fields = {"job_id": model["id"], **fields}
    if "snapshot_epoch" in fields:
        fields["image_path"] = str(model["folder"] / "red" / "000.png")
    files = {"image_file": upload} if upload else None
    response = post(server, CLASSIFY, files=files, **fields)
    assert response.status_code == 400, response.text
    assert field in response.json()["errors"], response.json()
