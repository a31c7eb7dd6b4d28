"""Import a model and fine-tune from it, through the JSON API, on real workers: an archive as
Download makes it, DIGITS 6's separate files (a state dict or .safetensors), and the refusals."""

import io
import tarfile

import pytest
import requests
import torch
from safetensors.torch import save_file

from digits.models import networks
from tests.support.api import build_dataset, created, finished, post, train
from tests.support.imagesets import make_class_folders

CLASSIFY = "/models/images/classification/classify_one.json"
ARCHIVE = "/pretrained_models/upload_archive.json"
FILES = "/pretrained_models/new.json"
LENET_SOURCE = """
import torch
from torch import nn

def network(num_classes, channels, height, width):
    return nn.Sequential(
        nn.Conv2d(channels, 4, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * (height - 2) * (width - 2), num_classes),
    )
"""


@pytest.fixture(scope="module")
def trained(server) -> dict:
    """LeNet trained one epoch on 28x28 colour squares of three classes, and its download."""
    folder = make_class_folders(server.data / "squares", per_class=12, size=(28, 28))
    dataset = build_dataset(server, folder, "squares")
    assert finished(server, dataset)["status"] == "Done"
    model = train(server, dataset, train_epochs="1", batch_size="8", learning_rate="0.05")
    assert finished(server, model)["status"] == "Done"
    archive = requests.get(f"{server.url}/models/{model}/download.tar.gz")
    assert archive.ok, archive.text
    return {"id": model, "dataset": dataset, "folder": folder, "archive": archive.content}


def classify(server, model_id: str, image) -> list:
    files = {"image_file": ("x.png", image.read_bytes())}
    answer = post(server, CLASSIFY, files=files, job_id=model_id)
    assert answer.ok, answer.text
    return answer.json()["scores"]


def test_an_archive_as_download_makes_it_imports_as_a_model_that_classifies_the_same(
    server, trained
):
    files = {"archive": ("lenet.tar.gz", trained["archive"])}
    imported = created(post(server, ARCHIVE, files=files, job_name="lenet, imported"))
    job = finished(server, imported, timeout=30)
    assert job["status"] == "Done" and job["labels"] == ["blue", "green", "red"]
    assert job["imported"]["width"] == 28 and job["imported"]["mean_mode"] == "image"
    index = requests.get(server.url + "/index.json").json()
    assert imported in [m["id"] for m in index["models"]]
    image = trained["folder"] / "green" / "003.png"
    assert classify(server, imported, image) == classify(server, trained["id"], image)
    # Downloaded again, it is the same model: its weights, its numbers.
    again = requests.get(f"{server.url}/models/{imported}/download.tar.gz")
    assert again.ok
    with tarfile.open(fileobj=io.BytesIO(again.content)) as archive:
        weights = torch.load(archive.extractfile("weights.pt"), weights_only=True)
    with tarfile.open(fileobj=io.BytesIO(trained["archive"])) as archive:
        original = torch.load(archive.extractfile("weights.pt"), weights_only=True)
    assert weights.keys() == original.keys()
    assert all(torch.equal(weights[k], original[k]) for k in weights)


def test_separate_files_with_safetensors_and_normalization_import(server, trained, tmp_path):
    torch.manual_seed(0)
    network = networks.create("lenet", 3, 3, 28, 28)
    save_file(network.state_dict(), str(tmp_path / "w.safetensors"))
    files = {
        "weights_file": ("w.safetensors", (tmp_path / "w.safetensors").read_bytes()),
        "model_def_file": ("network.py", _lenet_source().encode()),
        "labels_file": ("labels.txt", b"blue\ngreen\nred\n"),
    }
    fields = {
        "job_name": "from files",
        "image_type": "color",
        "width": "28",
        "height": "28",
        "resize_mode": "squash",
        "normalize_mean": "0.5,0.5,0.5",
        "normalize_std": "0.25",
    }
    imported = created(post(server, FILES, files=files, **fields))
    job = finished(server, imported, timeout=30)
    assert job["status"] == "Done"
    assert job["imported"]["normalize_mean"] == [0.5, 0.5, 0.5]
    image = trained["folder"] / "red" / "001.png"
    pixels = torch.from_numpy(_pixels(image)).float()[None]
    with torch.no_grad():
        expected = torch.softmax(network.eval()((pixels / 255 - 0.5) / 0.25), 1)[0]
    scores = dict(classify(server, imported, image))
    for label, probability in zip(["blue", "green", "red"], expected.tolist(), strict=True):
        assert scores[label] == pytest.approx(probability, abs=1e-5)


def test_weights_that_do_not_fit_are_a_400_naming_the_keys_and_no_job(server, tmp_path):
    small = torch.nn.Linear(2, 2).state_dict()
    torch.save({"conv.weight": torch.zeros(1), **small}, tmp_path / "w.pt")
    files = {
        "weights_file": ("w.pt", (tmp_path / "w.pt").read_bytes()),
        "model_def_file": ("network.py", LENET_SOURCE.encode()),
        "labels_file": ("labels.txt", b"a\nb\n"),
    }
    before = requests.get(server.url + "/index.json").json()["models"]
    answer = post(server, FILES, files=files, width="8", height="8", image_type="grayscale")
    assert answer.status_code == 400
    [message] = answer.json()["errors"]["weights_file"]
    assert "missing keys (4): 0.weight; 0.bias; 3.weight; 3.bias" in message
    assert "unexpected keys (3): conv.weight; weight; bias" in message
    assert requests.get(server.url + "/index.json").json()["models"] == before


def test_a_fine_tune_from_an_imported_model_trains_to_done(server, trained):
    files = {"archive": ("lenet.tar.gz", trained["archive"])}
    imported = created(post(server, ARCHIVE, files=files))
    assert finished(server, imported, timeout=30)["status"] == "Done"
    two = make_class_folders(
        server.data / "two", classes=("red", "blue"), per_class=8, size=(28, 28)
    )
    dataset = build_dataset(server, two, "two classes")
    assert finished(server, dataset)["status"] == "Done"
    tuned = train(
        server,
        dataset,
        method="pretrained",
        pretrained_networks=imported,
        train_epochs="2",
        freeze_epochs="1",
        pretrained_lr_mult="0.1",
        batch_size="8",
    )
    job = finished(server, tuned)
    assert job["status"] == "Done", job["error"]
    assert job["labels"] == ["blue", "red"]
    delete = requests.delete(f"{server.url}/models/{imported}.json", data={"username": "fred"})
    assert delete.status_code == 403  # a model that another started from stays


def _lenet_source() -> str:
    from digits.models import catalog

    return catalog.standalone_source("lenet")


def _pixels(path):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1).copy()


def test_a_colour_network_of_fixed_size_fine_tunes_on_smaller_grayscale_images(server, trained):
    files = {"archive": ("lenet.tar.gz", trained["archive"])}
    imported = created(post(server, ARCHIVE, files=files))
    assert finished(server, imported, timeout=30)["status"] == "Done"
    folder = make_class_folders(server.data / "small gray", per_class=6, size=(20, 20))
    gray = build_dataset(server, folder, "small gray", size=20, resize_channels="1")
    assert finished(server, gray)["status"] == "Done"
    tuned = train(server, gray, method="pretrained", pretrained_networks=imported, train_epochs="1")
    job = finished(server, tuned)
    assert job["status"] == "Done", job["error"]
    parameters = job["parameters"]
    assert (parameters["network_channels"], parameters["network_height"]) == ("3", "28")
    assert len(classify(server, tuned, folder / "blue" / "002.png")) == 3
