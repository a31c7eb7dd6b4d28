"""DIGITS' own REST walkthrough (its docs/API.md: "Image classification", then "Regression"),
replayed call by call as its users' scripts make them: a session cookie from /login, form
fields, the answers' keys and shapes where DIGITS defined them."""

import pytest
import requests

from tests.support.api import finished
from tests.support.imagesets import make_class_folders, make_value_images


@pytest.fixture(scope="module")
def cookie(server) -> requests.Session:
    """`curl localhost/login -c digits.cookie -XPOST -F username=fred`."""
    session = requests.Session()
    answer = session.post(f"{server.url}/login", files={"username": (None, "fred")})
    assert answer.status_code == 200 and session.cookies
    return session


@pytest.fixture(scope="module")
def mnist_dataset(server, cookie) -> str:
    folder = make_class_folders(server.data / "mnist" / "train", per_class=30, size=(28, 28))
    fields = {
        "folder_train": str(folder),
        "encoding": "png",
        "resize_channels": "1",
        "resize_width": "28",
        "resize_height": "28",
        "method": "folder",
        "dataset_name": "mnist_dataset",
    }
    answer = cookie.post(f"{server.url}/datasets/images/classification.json", files=_form(fields))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) >= {"id", "name", "status"} and body["name"] == "mnist_dataset"
    assert finished(server, body["id"])["status"] == "Done"
    return body["id"]


def _form(fields: dict) -> dict:
    """curl's -F fields: multipart form data."""
    return {name: (None, value) for name, value in fields.items()}


def test_the_dataset_status_and_json_are_digits(server, mnist_dataset):
    status = requests.get(f"{server.url}/datasets/{mnist_dataset}/status").json()
    assert (status["status"], status["name"], status["error"]) == ("Done", "mnist_dataset", None)
    job = requests.get(f"{server.url}/datasets/{mnist_dataset}.json").json()
    created = job["CreateDbTasks"][0]
    assert (created["backend"], created["encoding"], created["image_channels"]) == (
        "lmdb",
        "png",
        1,
    )
    assert (created["image_height"], created["image_width"]) == (28, 28)
    parsed = job["ParseFolderTasks"][0]
    assert parsed["label_count"] == 3 and parsed["train_count"] + parsed["val_count"] == 90
    assert {"directory", "id", "name", "status"} <= set(job)
    listed = requests.get(f"{server.url}/index.json").json()
    assert mnist_dataset in [d["id"] for d in listed["datasets"]] and "version" in listed


@pytest.fixture(scope="module")
def lenet(server, cookie, mnist_dataset) -> dict:
    fields = {
        "method": "standard",
        "standard_networks": "lenet",
        "train_epochs": "2",
        "framework": "caffe",
        "model_name": "lenet_mnist",
        "dataset": mnist_dataset,
    }
    answer = cookie.post(f"{server.url}/models/images/classification.json", files=_form(fields))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert finished(server, body["id"], timeout=300)["status"] == "Done"
    return body


def test_creating_the_model_answers_the_whole_job(server, lenet, mnist_dataset):
    for key in ("creation time", "dataset_id", "framework", "id", "job id", "name", "status"):
        assert key in lenet, key
    assert lenet["job id"] == lenet["id"] and lenet["dataset_id"] == mnist_dataset
    assert lenet["username"] == "fred" and lenet["image dimensions"] == [28, 28, 1]
    job = requests.get(f"{server.url}/models/{lenet['id']}.json").json()
    assert job["snapshots"] == [1.0, 2.0] and job["snapshot file"] == "snapshot_epoch_2.pt"
    # Each file DIGITS' JSON names is fetched as DIGITS' scripts fetched it: /files/<id>/<name>.
    labels = requests.get(f"{server.url}/files/{lenet['id']}/{job['labels file']}")
    assert labels.text.splitlines() == ["blue", "green", "red"]
    for key in ("mean file", "model file", "snapshot file"):
        assert requests.get(f"{server.url}/files/{lenet['id']}/{job[key]}").status_code == 200


def test_classify_one_then_many_from_the_datasets_val_txt(server, lenet, mnist_dataset):
    image = server.data / "mnist" / "train" / "green" / "003.png"
    with open(image, "rb") as f:
        one = requests.post(
            f"{server.url}/models/images/classification/classify_one.json",
            files={"job_id": (None, lenet["id"]), "image_file": ("00003.png", f)},
        ).json()
    labels = [label for label, _ in one["predictions"]]
    assert sorted(labels) == ["blue", "green", "red"] and 0 <= one["predictions"][0][1] <= 100
    # "We can get the image list from the validation set in the dataset job folder".
    dataset = requests.get(f"{server.url}/datasets/{mnist_dataset}.json").json()
    val_count = dataset["ParseFolderTasks"][0]["val_count"]  # 25% by default
    val_txt = requests.get(f"{server.url}/files/{mnist_dataset}/val.txt")
    assert val_txt.status_code == 200 and len(val_txt.text.splitlines()) == val_count
    many = requests.post(
        f"{server.url}/models/images/classification/classify_many.json",
        files={"job_id": (None, lenet["id"]), "image_list": ("val.txt", val_txt.content)},
    ).json()
    assert len(many["classifications"]) == val_count
    assert many["accuracy"]["labelled"] == val_count  # val.txt's labels are the dataset's


def test_deleting_the_model(server, cookie, lenet):
    answer = cookie.delete(f"{server.url}/models/{lenet['id']}")
    assert (answer.status_code, answer.text) == (200, "Job deleted.")
    assert requests.get(f"{server.url}/models/{lenet['id']}.json").status_code == 404


def test_regression_model_and_infer_one(server, cookie):
    folder = server.data / "gradients"
    table = make_value_images(folder, count=40, size=28)
    fields = {
        "method": "csv",
        "csv_folder": str(folder),
        "resize_channels": "1",
        "resize_width": "28",
        "resize_height": "28",
        "dataset_name": "gradient_dataset",
    }
    files = _form(fields) | {"csv_train": ("values.csv", table)}
    dataset = cookie.post(f"{server.url}/datasets/images/generic.json", files=files).json()
    assert finished(server, dataset["id"])["status"] == "Done"
    fields = {
        "method": "standard",
        "standard_networks": "lenet",
        "train_epochs": "3",
        "framework": "torch",
        "model_name": "gradients_model",
        "dataset": dataset["id"],
    }
    model = cookie.post(f"{server.url}/models/images/generic.json", files=_form(fields)).json()
    assert model["job id"] == model["id"] and model["framework"] == "pytorch"
    assert finished(server, model["id"], timeout=300)["status"] == "Done"
    with open(folder / "img_010.png", "rb") as f:
        answer = requests.post(
            f"{server.url}/models/images/generic/infer_one.json",
            files={"job_id": (None, model["id"]), "image_file": ("test.png", f)},
        ).json()
    [[first, second]] = answer["outputs"]["output"]  # DIGITS' shape: one image, two values
    assert isinstance(first, float) and isinstance(second, float)
