"""Classify One through the real path: the web server asks a worker of queue `infer`."""

import io
import re
import tarfile
import zipfile

import numpy as np
import pytest
import requests
import torch

from digits.datasets.creation import _Settings, prepare_image
from digits.models import networks
from digits.models.preprocessing import Preprocessing
from tests.support.api import finished, post
from tests.support.imagesets import make_class_folders
from tests.support.venvs import run_outside, venv_with

CLASSIFY = "/models/images/classification/classify_one.json"


@pytest.fixture(scope="module")
def model(server) -> dict:
    """LeNet trained 2 epochs on 32x32 crops of wider images, 28x28 crop, mean image."""
    folder = make_class_folders(server.data / "colors", per_class=20, size=(40, 30))
    dataset = post(
        server,
        "/datasets/images/classification.json",
        method="folder",
        folder_train=str(folder),
        folder_pct_val="25",
        resize_width="32",
        resize_height="32",
        resize_mode="crop",
        dataset_name="colors",
    )
    dataset = dataset.json()["id"]
    assert finished(server, dataset)["status"] == "Done"
    job_id = post(
        server,
        "/models/images/classification.json",
        method="standard",
        standard_networks="lenet",
        train_epochs="2",
        batch_size="8",
        crop_size="28",
        learning_rate="0.02",
        dataset=dataset,
        model_name="lenet",
    )
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
    assert answer["device"] == "cpu"  # this host has no GPU, and the answer says so
    assert answer["device_note"] == "the CPU: this host has no GPU that PyTorch can use"

    by_path = post(
        server, CLASSIFY, job_id=model["id"], image_path=str(path), snapshot_epoch="1"
    ).json()
    assert by_path["epoch"] == 1 and len(by_path["predictions"]) == 3


def test_visualizations_cover_every_layer_with_a_saliency_map(server, model):
    path = model["folder"] / "red" / "003.png"
    answer = post(
        server, CLASSIFY, job_id=model["id"], image_path=str(path), show_visualizations="1"
    ).json()
    layers = answer["visualizations"]
    assert [layer["kind"] for layer in layers] == [
        "Conv2d",
        "MaxPool2d",
        "Conv2d",
        "MaxPool2d",
        "Flatten",
        "Linear",
        "ReLU",
        "Linear",
    ]
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


def download(server, model, suffix="", **params) -> requests.Response:
    return requests.get(f"{server.url}/models/{model['id']}/download{suffix}", params=params)


@pytest.mark.parametrize("suffix", [".tar.gz", ".tar", ".zip"])
def test_the_download_holds_everything_to_run_elsewhere(server, model, suffix, tmp_path):
    response = download(server, model, suffix, epoch="1")
    assert response.status_code == 200, response.text
    name = f"{model['id']}_epoch_1{suffix}"
    assert f"filename={name}" in response.headers["Content-Disposition"]
    archive = tmp_path / name
    archive.write_bytes(response.content)
    if suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            names = set(z.namelist())
    else:
        with tarfile.open(archive) as t:
            names = set(t.getnames())
    assert names == {
        "weights.pt",
        "network.py",
        "labels.txt",
        "mean.npy",
        "mean.png",
        "info.json",
        "model.torchscript.pt",
        "model.onnx",
        "README.md",
    }


def test_digits_download_button_posts_the_epoch_and_bz2_is_a_format(server, model, tmp_path):
    response = requests.post(
        f"{server.url}/models/{model['id']}/download.tar.bz2", data={"snapshot_epoch": "1"}
    )
    assert response.status_code == 200, response.text
    assert f"filename={model['id']}_epoch_1.tar.bz2" in response.headers["Content-Disposition"]
    (tmp_path / "a.tar.bz2").write_bytes(response.content)
    with tarfile.open(tmp_path / "a.tar.bz2", "r:bz2") as archive:
        assert "weights.pt" in archive.getnames()


def test_a_model_with_nothing_to_download_says_so(server, model):
    assert download(server, model, epoch="9").status_code == 400
    missing = requests.get(f"{server.url}/models/20200101-000000-0000/download.zip")
    assert missing.status_code == 404


def parse_predictions(output: str) -> dict[str, list[tuple[str, float]]]:
    """DIGITS' printout: `--- Prediction for <file> ---`, then lines ` 96.1199% - "label"`."""
    found: dict[str, list] = {}
    for block in output.strip().split("\n\n"):
        header, *lines = block.strip().splitlines()
        path = re.fullmatch(r"--- Prediction for (.+) ---", header).group(1)
        matches = [re.fullmatch(r' *([\d.]+)% - "(.+)"', line) for line in lines]
        found[path] = [(m.group(2), float(m.group(1))) for m in matches]
    return found


@pytest.fixture(scope="module")
def server_answers(server, model) -> dict[str, list]:
    answers = {}
    for name in ("red/001.png", "green/012.png", "blue/019.png"):
        path = model["folder"] / name
        answer = post(server, CLASSIFY, job_id=model["id"], image_path=str(path)).json()
        answers[str(path)] = [(label, score * 100) for label, score in answer["scores"]]
    return answers


def assert_same_predictions(printed, server_answers):
    assert set(printed) == set(server_answers)
    for path, lines in printed.items():
        expected = server_answers[path]
        assert [label for label, _ in lines] == [label for label, _ in expected]
        for (_, got), (_, want) in zip(lines, expected, strict=True):
            assert abs(got - want) <= 0.0001 + 1e-9, (path, got, want)  # 4 decimals of percent


@pytest.mark.parametrize("runtime", ["torchscript", "onnx"])
def test_use_archive_gives_the_servers_numbers_in_a_fresh_environment(
    server, model, server_answers, runtime, tmp_path
):
    packages = (
        ["torch", "numpy", "pillow"]
        if runtime == "torchscript"
        else ["onnxruntime", "numpy", "pillow"]
    )
    python = venv_with(tmp_path / "env", packages)
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(download(server, model, ".tar.gz").content)
    flags = ["--onnx"] if runtime == "onnx" else []
    output = run_outside(python, "use_archive.py", archive, *server_answers, *flags)
    assert_same_predictions(parse_predictions(output), server_answers)


def test_example_py_gives_the_servers_numbers_from_weights_and_source(
    server, model, server_answers, tmp_path
):
    python = venv_with(tmp_path / "env", ["torch", "numpy", "pillow"])
    with zipfile.ZipFile(io.BytesIO(download(server, model, ".zip").content)) as z:
        z.extractall(tmp_path / "model")
    folder = tmp_path / "model"
    output = run_outside(
        python,
        "example.py",
        folder / "weights.pt",
        folder / "network.py",
        *server_answers,
        "-l",
        folder / "labels.txt",
        "-m",
        folder / "mean.npy",
    )
    assert_same_predictions(parse_predictions(output), server_answers)


MANY = "/models/images/classification/classify_many.json"


def test_classify_many_with_labels_gives_the_accuracy_of_a_direct_evaluation(server, model):
    labels = ["blue", "green", "red"]
    paths = sorted(model["folder"].glob("*/*.png"))[::3]
    lines = [f"{p.relative_to(server.data)} {labels.index(p.parent.name)}" for p in paths]
    lines += ["colors/red/missing.png 2", "/etc/hostname 0", f"{paths[0]} 7"]
    response = post(
        server,
        MANY,
        files={"image_list": ("list.txt", "\n".join(lines))},
        job_id=model["id"],
        image_folder=str(server.data),
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert len(answer["classifications"]) == len(paths)
    assert [e["line"] for e in answer["errors"]] == [len(paths) + 1, len(paths) + 2, len(paths) + 3]
    direct = [validation_scores(server, model, p)[0][0] == p.parent.name for p in paths]
    assert answer["accuracy"]["top1"] == pytest.approx(100 * sum(direct) / len(paths))
    assert answer["accuracy"]["labelled"] == len(paths)
    assert sum(map(sum, answer["confusion"])) == len(paths)
    assert answer["device"] == "cpu" and "no GPU" in answer["device_note"]
    first = str(paths[0].relative_to(server.data))
    assert [label for label, _ in answer["classifications"][f"{server.data}/{first}"]] == [
        label for label, _ in validation_scores(server, model, paths[0])
    ]


def test_an_archive_of_class_folders_is_labelled_by_its_folders(server, model, tmp_path):
    bundle = tmp_path / "few.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        for path in sorted(model["folder"].glob("*/00[0-3].png")):
            z.write(path, f"few/{path.parent.name}/{path.name}")
    with open(bundle, "rb") as f:
        answer = post(
            server,
            MANY,
            files={"image_archive": ("few.zip", f)},
            job_id=model["id"],
            num_test_images="10",
        ).json()
    assert len(answer["classifications"]) == 10 and answer["accuracy"]["labelled"] == 10
    assert set(answer["classifications"]) <= {
        f"{c}/00{n}.png" for c in ("blue", "green", "red") for n in range(4)
    }


def test_top_n_lists_each_classes_most_confident_images(server, model):
    listing = "\n".join(str(p) for p in sorted(model["folder"].glob("*/*.png")))
    response = post(
        server,
        "/models/images/classification/top_n.json",
        job_id=model["id"],
        files={"image_list": ("l.txt", listing)},
        top_n="4",
    )
    assert response.status_code == 200, response.text
    top = response.json()["top_n"]
    assert sorted(top) == ["blue", "green", "red"]
    for images in top.values():
        percents = [percent for _, percent in images]
        assert len(images) == 4 and percents == sorted(percents, reverse=True)
    assert all("/red/" in path for path, _ in top["red"])


@pytest.mark.parametrize(
    ("files", "fields", "field"),
    [
        (None, {}, "image_list"),
        ({"image_list": ("l.txt", "  \n")}, {}, "image_list"),
        ({"image_archive": ("x.rar", b"rar")}, {}, "image_archive"),
        ({"image_list": ("l.txt", "a.png")}, {"num_test_images": "0"}, "num_test_images"),
        ({"image_list": ("l.txt", "a.png")}, {"snapshot_epoch": "99"}, "snapshot_epoch"),
    ],
)
def test_classify_many_refuses_bad_input_before_any_job(server, model, files, fields, field):
    response = post(server, MANY, files=files, job_id=model["id"], **fields)
    assert response.status_code == 400 and field in response.json()["errors"], response.text
