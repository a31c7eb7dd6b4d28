"""Standard networks started from torchvision's ImageNet weights: a file dropped into the weights
folder by hand is used as it is; a download whose content does not match its published hash is
refused with a clear error and leaves nothing behind. The weights are made up here (no file
comes from outside), served by a loopback HTTP server under DIGITS_WEIGHTS_URL."""

import functools
import http.server
import threading

import pytest
import torch

from digits.models import networks
from digits.models.published import IMAGENET_FILES
from tests.support.api import MODELS, build_dataset, finished, post, train
from tests.support.imagesets import make_class_folders
from tests.support.processes import Server, data_roots_of

CLASSIFY = "/models/images/classification/classify_one.json"


@pytest.fixture(scope="module")
def weights_site(tmp_path_factory):
    """A loopback web server whose files are made up (their hashes cannot match)."""
    folder = tmp_path_factory.mktemp("site")
    (folder / "models").mkdir()
    for name in IMAGENET_FILES.values():
        (folder / "models" / name).write_bytes(b"not the published weights")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{site.server_address[1]}/models/"
    site.shutdown()


@pytest.fixture(scope="module")
def server_and_data(tmp_path_factory, weights_site):
    jobs_dir = tmp_path_factory.mktemp("published") / "jobs"
    data = data_roots_of(jobs_dir)
    folder = make_class_folders(data / "colors", per_class=6, size=(32, 32))
    running = Server(jobs_dir, env={"DIGITS_WEIGHTS_URL": weights_site})
    try:
        dataset = build_dataset(running, folder, "colors", size=32)
        assert finished(running, dataset)["status"] == "Done"
        yield running, jobs_dir, dataset
    finally:
        running.discard()


def test_weights_dropped_into_the_folder_start_the_training(server_and_data):
    server, jobs_dir, dataset = server_and_data
    published = drop_weights(jobs_dir, "resnet18")
    model = train(
        server,
        dataset,
        standard_networks="resnet18",
        pretrained_weights="imagenet",
        freeze_epochs="1",  # every epoch: a linear probe
        train_epochs="1",
        batch_size="6",
    )
    job = finished(server, model)
    assert job["status"] == "Done", job["error"]
    parameters = job["parameters"]
    assert parameters["normalize_mean"] == "0.485,0.456,0.406" and parameters["use_mean"] == "none"
    snapshot = torch.load(next((jobs_dir / model).glob("snapshot_*.pt")), weights_only=True)
    assert torch.equal(snapshot["model"]["conv1.weight"], published["conv1.weight"])  # frozen
    assert snapshot["model"]["fc.weight"].shape == (3, 512)  # its own classifier


def test_a_download_that_does_not_match_its_hash_is_refused(server_and_data):
    server, jobs_dir, dataset = server_and_data
    model = train(
        server,
        dataset,
        standard_networks="mobilenet_v2",
        pretrained_weights="imagenet",
        train_epochs="1",
    )
    job = finished(server, model)
    assert job["status"] == "Error"
    assert "does not match the published hash of mobilenet_v2-b0353104.pth" in job["error"]
    assert not (jobs_dir / ".weights" / IMAGENET_FILES["mobilenet_v2"]).exists()


def test_imagenet_weights_need_a_network_that_has_them(server_and_data):
    server, _, dataset = server_and_data
    answer = post(
        server,
        MODELS,
        method="standard",
        standard_networks="lenet",
        pretrained_weights="imagenet",
        dataset=dataset,
        model_name="refused",
    )
    assert answer.status_code == 400
    message = answer.json()["errors"]["pretrained_weights"][0]
    assert "no published ImageNet weights for lenet" in message


def test_grayscale_images_are_repeated_to_the_colour_the_weights_read(server_and_data):
    server, jobs_dir, _ = server_and_data
    drop_weights(jobs_dir, "resnet18")
    folder = make_class_folders(data_roots_of(jobs_dir) / "gray", per_class=3, size=(32, 32))
    gray = build_dataset(server, folder, "gray", size=32, resize_channels="1")
    assert finished(server, gray)["status"] == "Done"
    model = train(
        server, gray, standard_networks="resnet18", pretrained_weights="imagenet", train_epochs="1"
    )
    job = finished(server, model)
    assert job["status"] == "Done", job["error"]
    assert job["parameters"]["network_channels"] == "3"
    image = {"image_file": ("x.png", (folder / "red" / "000.png").read_bytes())}
    answer = post(server, CLASSIFY, files=image, job_id=model)
    assert answer.ok, answer.text
    assert len(answer.json()["scores"]) == 3


def drop_weights(jobs_dir, network: str) -> dict:
    """Made-up 'published' weights, put into the weights folder by hand."""
    path = jobs_dir / ".weights" / IMAGENET_FILES[network]
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        torch.manual_seed(1)
        torch.save(networks.create(network, 1000, 3, 224, 224).state_dict(), path)
    return torch.load(path, weights_only=True)
