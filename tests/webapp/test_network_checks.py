"""Visualize, Customize and the fit check at submission: answered by a real worker of queue
infer, custom code in a child with a time and a memory limit, never in the web process."""

import os

import pytest

from tests.support.model_forms import MODELS, done_dataset, errors_of, model_fields
from tests.support.processes import start_worker

VISUALIZE = "/models/visualize-network.json"
CHECK_SECONDS = 6


@pytest.fixture(scope="module")
def jobs_dir(tmp_path_factory):
    """One jobs folder for the module: its worker starts once."""
    folder = tmp_path_factory.mktemp("network-checks") / "jobs"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module", autouse=True)
def infer_worker(jobs_dir):
    limits = {
        "DIGITS_NETWORK_CHECK_SECONDS": str(CHECK_SECONDS),
        "DIGITS_NETWORK_CHECK_MEMORY_MB": "3072",
    }
    worker = start_worker(jobs_dir, queues="infer", node="checks", env=limits)
    yield worker
    worker.discard()


@pytest.fixture
def dataset(app) -> str:
    return done_dataset(app.extensions["digits"].store)


def test_visualize_shows_layers_or_the_error_line(fred, dataset):
    answer = fred.post(VISUALIZE, data={"standard_networks": "lenet", "dataset": dataset})
    assert answer.get_json()["input"] == [1, 28, 28]
    assert answer.get_json()["layers"][-1]["output_shape"] == [3]
    broken = fred.post(VISUALIZE, data={"custom_network": "def network(a, b, c, d):\n    1 +\n"})
    assert broken.status_code == 400 and broken.get_json()["line"] == 2


def test_customize_gives_code_that_visualizes(fred, dataset):
    code = fred.post("/models/customize.json", data={"network": "lenet"}).get_json()["network"]
    assert "def network(" in code
    answer = fred.post(VISUALIZE, data={"custom_network": code, "dataset": dataset})
    assert answer.status_code == 200 and answer.get_json()["layers"][-1]["output_shape"] == [3]


def test_visualize_draws_the_real_data_flow(fred):
    fields = {
        "standard_networks": "resnet18",
        "num_classes": "5",
        "channels": "3",
        "height": "64",
        "width": "64",
    }
    graph = fred.post(VISUALIZE, data=fields).get_json()["graph"]
    kinds = [node["kind"] for node in graph["nodes"]]
    assert kinds[0] == "Input" and kinds[-1] == "Output"
    assert kinds.count("add") == 8  # a shortcut joins each of ResNet-18's eight blocks
    ids = {node["id"] for node in graph["nodes"]}
    assert all(source in ids and target in ids for source, target in graph["edges"])
    assert len(graph["edges"]) > len(graph["nodes"]) - 1  # more than a chain: the shortcuts


def test_custom_code_that_fails_is_refused_with_its_line(fred, dataset):
    code = "from torch import nn\n\ndef network(n, c, h, w):\n    return nn.Linear(c * h * w, n)\n"
    fields = model_fields(dataset, method="custom", custom_network=code)
    message = errors_of(fred.post(MODELS, data=fields))
    assert "fails on 1x28x28 images" in message["custom_network"][0]
    assert fred.get("/index.json").get_json()["models"] == []


def test_a_standard_network_that_does_not_fit_is_refused(fred, dataset):
    errors = errors_of(fred.post(MODELS, data=model_fields(dataset, crop_size="10")))
    assert "Kernel size can't be greater than actual input size" in errors["standard_networks"][0]


def test_custom_code_runs_in_a_child_of_the_worker_not_in_the_web_server(fred):
    code = "import os\nraise ValueError(f'pid {os.getpid()}')\n"
    answer = fred.post(VISUALIZE, data={"custom_network": code})
    assert answer.status_code == 400
    [message] = answer.get_json()["errors"]["custom_network"]
    assert message.startswith("ValueError: pid ") and message != f"ValueError: pid {os.getpid()}"


def test_an_endless_loop_is_stopped_at_the_time_limit(fred):
    code = "while True:\n    pass\n"
    answer = fred.post(VISUALIZE, data={"custom_network": code + "def network(): pass\n"})
    assert answer.status_code == 400
    [message] = answer.get_json()["errors"]["custom_network"]
    assert f"ran longer than {CHECK_SECONDS} s" in message
    again = fred.post(VISUALIZE, data={"standard_networks": "lenet"})  # the worker is fine
    assert again.status_code == 200


def test_memory_beyond_the_limit_is_refused(fred):
    code = "import torch\nhuge = torch.empty(2**30)\ndef network(n, c, h, w):\n    pass\n"
    answer = fred.post(VISUALIZE, data={"custom_network": code})
    assert answer.status_code == 400 and answer.get_json()["line"] == 2
    assert "can't allocate memory" in answer.get_json()["errors"]["custom_network"][0]
