"""The New Model form and API: what is refused before any job exists, and the form's helpers."""

import pytest

from digits.jobs.job import Job, new_job_id
from digits.jobs.status import Status

MODELS = "/models/images/classification.json"


@pytest.fixture
def dataset(app, jobs_dir) -> str:
    """A Done dataset job folder with an info.json (28x28 gray images, 3 classes)."""
    import json

    store = app.extensions["digits"].store
    job = Job(id=new_job_id(), type="image-classification-dataset", kind="dataset", name="d",
              owner="fred", queue="cpu")  # fmt: skip
    job.set_status(Status.DONE)
    folder = store.create(job)
    info = {"labels": ["a", "b", "c"], "image": {"width": 28, "height": 28, "channels": 1,
            "resize_mode": "squash", "encoding": "png"}, "splits": {}, "skipped": [],
            "messages": []}  # fmt: skip
    (folder / "info.json").write_text(json.dumps(info))
    return job.id


def model_fields(dataset_id, **overrides):
    fields = {"method": "standard", "standard_networks": "lenet", "model_name": "m",
              "dataset": dataset_id, "train_epochs": "2"}  # fmt: skip
    return {**fields, **overrides}


def errors_of(response):
    assert response.status_code == 400, response.data
    return response.get_json()["errors"]


def test_digits_call_creates_a_waiting_model(fred, dataset):
    response = fred.post(
        MODELS, data=model_fields(dataset, train_epochs="30", model_name="lenet_mnist")
    )
    assert response.status_code == 200
    job = fred.get(f"/models/{response.get_json()['id']}.json").get_json()
    assert job["status"] == "Waiting" and job["framework"] == "pytorch"
    assert job["dataset_id"] == dataset and job["labels"] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"train_epochs": "0"}, "train_epochs"),
        ({"batch_size": "0"}, "batch_size"),
        ({"learning_rate": "0"}, "learning_rate"),
        ({"learning_rate": "-1"}, "learning_rate"),
        ({"snapshot_interval": "0"}, "snapshot_interval"),
        ({"val_interval": "-2"}, "val_interval"),
        ({"crop_size": "29"}, "crop_size"),
        ({"crop_size": "10"}, "standard_networks"),  # LeNet does not fit 10x10 images
        ({"solver_type": "LBFGS"}, "solver_type"),
        ({"aug_rot": "200"}, "aug_rot"),
        ({"aug_noise": "2"}, "aug_noise"),
        ({"aug_quad_rot": "rot45"}, "aug_quad_rot"),
        ({"aug_hsv_use": "1", "aug_hsv_h": "0.9"}, "aug_hsv_h"),
        ({"lr_policy": "cosine"}, "lr_policy"),
        ({"lr_multistep_values": "a,b", "lr_policy": "multistep"}, "lr_multistep_values"),
        ({"standard_networks": "vgg99"}, "standard_networks"),
        ({"framework": "caffe"}, "framework"),
        ({"dataset": "20250101-000000-abcd"}, "dataset"),
        ({"model_name": ""}, "model_name"),
        ({"select_gpus": "3"}, "select_gpus"),
        ({"method": "previous", "previous_networks": ""}, "previous_networks"),
    ],
)
def test_bad_fields_are_400s_naming_the_field(fred, dataset, overrides, field):
    fields = model_fields(dataset)
    fields.update(overrides)
    assert field in errors_of(fred.post(MODELS, data=fields))
    assert fred.get("/index.json").get_json()["models"] == []


def test_custom_code_that_fails_is_refused_with_its_line(fred, dataset):
    code = "from torch import nn\n\ndef network(n, c, h, w):\n    return nn.Linear(c * h * w, n)\n"
    message = errors_of(fred.post(MODELS, data=model_fields(dataset, method="custom",
                                                          custom_network=code)))  # fmt: skip
    assert "fails on 1x28x28 images" in message["custom_network"][0]


def test_visualize_shows_layers_or_the_error_line(client, dataset):
    url = "/models/visualize-network.json"
    answer = client.post(url, data={"standard_networks": "lenet", "dataset": dataset}).get_json()
    assert answer["input"] == [1, 28, 28]
    assert answer["layers"][-1]["output_shape"] == [3]
    code = "def network(a, b, c, d):\n    return 1 +\n"
    broken = client.post(url, data={"custom_network": code})
    assert broken.status_code == 400 and broken.get_json()["line"] == 2


def test_customize_gives_code_that_visualizes(client, dataset):
    code = client.post("/models/customize.json", data={"network": "lenet"}).get_json()["network"]
    assert "def network(" in code
    answer = client.post("/models/visualize-network.json",
                         data={"custom_network": code, "dataset": dataset})  # fmt: skip
    assert answer.status_code == 200 and answer.get_json()["layers"][-1]["output_shape"] == [3]


def test_lr_preview_follows_the_policy(client):
    curve = client.post("/models/visualize-lr.json", data={
        "lr_policy": "step", "lr_step_size": "50", "lr_step_gamma": "0.5", "learning_rate": "1"
    }).get_json()  # fmt: skip
    assert curve["y"][0] == 1.0 and curve["y"][50] == 0.5 and curve["y"][-1] == 0.25


def test_the_form_page_offers_every_digits_option(fred, dataset):
    page = fred.get("/models/images/classification/new").get_data(as_text=True)
    names = """dataset train_epochs snapshot_interval val_interval random_seed batch_size
        batch_accumulation solver_type learning_rate lr_policy use_mean crop_size shuffle aug_flip
        aug_quad_rot aug_rot aug_scale aug_noise aug_hsv_use aug_hsv_h aug_hsv_s aug_hsv_v
        method standard_networks previous_networks custom_network select_gpu_count model_name
        """.split()
    for name in names:
        assert f'name="{name}"' in page
    for network in ("lenet", "alexnet", "googlenet", "resnet18", "resnet50", "mobilenet_v2"):
        assert f'value="{network}"' in page


def test_visualize_draws_the_real_data_flow(client):
    fields = {"standard_networks": "resnet18", "num_classes": "5", "channels": "3",
              "height": "64", "width": "64"}  # fmt: skip
    graph = client.post("/models/visualize-network.json", data=fields).get_json()["graph"]
    kinds = [node["kind"] for node in graph["nodes"]]
    assert kinds[0] == "Input" and kinds[-1] == "Output"
    assert kinds.count("add") == 8  # a shortcut joins each of ResNet-18's eight blocks
    ids = {node["id"] for node in graph["nodes"]}
    assert all(source in ids and target in ids for source, target in graph["edges"])
    assert len(graph["edges"]) > len(graph["nodes"]) - 1  # more than a chain: the shortcuts


def offer_gpus(jobs_dir, **hosts):
    """Heartbeat files of live GPU workers: offer_gpus(jobs_dir, a=[0, 1]) for `gpu@a`."""
    import json
    import time

    folder = jobs_dir / ".workers"
    folder.mkdir(parents=True, exist_ok=True)
    for node, gpus in hosts.items():
        devices = [{"index": g, "name": "H100", "held_by": {"name": "first"} if g == 0 else None}
                   for g in gpus]  # fmt: skip
        beat = {"hostname": f"gpu@{node}", "host": node, "queues": ["gpu"], "gpus": gpus,
                "devices": devices, "time": time.time()}  # fmt: skip
        (folder / f"gpu@{node}.json").write_text(json.dumps(beat))


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"select_gpus": "5"}, "select_gpus", "no worker offers GPU 5"),
        ({"select_gpus": "1,2"}, "select_gpus", "no one host has all of these GPUs"),
        ({"select_gpu_count": "3"}, "select_gpu_count", "the largest host has 2"),
    ],
)
def test_gpus_no_host_can_give_are_refused(fred, dataset, jobs_dir, overrides, field, message):
    offer_gpus(jobs_dir, a=[0, 1], b=[2])
    [error] = errors_of(fred.post(MODELS, data=model_fields(dataset, **overrides)))[field]
    assert message in error
    assert "training across hosts is not supported yet" in error or field == "select_gpus"


def test_gpus_one_host_has_are_accepted(fred, dataset, jobs_dir):
    offer_gpus(jobs_dir, a=[0, 1], b=[2])
    assert fred.post(MODELS, data=model_fields(dataset, select_gpus="0,1")).status_code == 200
    assert fred.post(MODELS, data=model_fields(dataset, select_gpu_count="2")).status_code == 200


def test_the_form_offers_each_gpu_with_its_state_on_each_host(fred, jobs_dir):
    offer_gpus(jobs_dir, a=[0, 1], b=[0])
    page = fred.get("/models/images/classification/new").get_data(as_text=True)
    assert (
        '<option value="0">GPU 0 · H100 (held by first on a, held by first on b)</option>' in page
    )
    assert '<option value="1">GPU 1 · H100 (free on a)</option>' in page
