"""Training through the real job path: `digits serve`, its workers, torchrun, real steps."""

import json
import time

import pytest
import requests
import torch

from digits.datasets.database import records_at
from tests.support import api
from tests.support.api import finished, post
from tests.support.imagesets import make_class_folders
from tests.support.processes import wait_until

MODELS = "/models/images/classification.json"


@pytest.fixture(scope="module")
def colors(server) -> str:
    """A Done dataset: three colours, 28x28, 32 training and 8 validation images per class."""
    train = make_class_folders(server.data / "colors", per_class=40, size=(28, 28))
    response = post(
        server,
        "/datasets/images/classification.json",
        method="folder",
        folder_train=str(train),
        folder_pct_val="20",
        resize_width="28",
        resize_height="28",
        dataset_name="colors",
    )
    job_id = response.json()["id"]
    assert finished(server, job_id)["status"] == "Done"
    return job_id


def train(server, dataset, **fields) -> str:
    """LeNet on the colours: 4 epochs of batches of 16 at a fixed 0.05, seeded."""
    settings = {
        "train_epochs": "4",
        "learning_rate": "0.05",
        "random_seed": "1",
        "batch_size": "16",
        "model_name": "lenet colors",
    }
    return api.train(server, dataset, **{**settings, **fields})


@pytest.fixture(scope="module")
def trained(server, colors) -> str:
    job_id = train(server, colors)
    job = finished(server, job_id)
    assert job["status"] == "Done", job
    return job_id


def test_a_small_network_learns_the_dataset(server, trained):
    job = requests.get(f"{server.url}/models/{trained}.json").json()
    assert job["snapshots"] == [1.0, 2.0, 3.0, 4.0]
    assert job["framework"] == "pytorch" and job["labels"] == ["blue", "green", "red"]
    assert job["image dimensions"] == [28, 28, 3]
    assert job["best"]["val_top1"] >= 95.0
    # The validation set's confusion matrix at the best epoch agrees with its accuracy.
    confusion = job["validation_confusion"]
    assert confusion["epoch"] == job["best"]["epoch"] and confusion["labels"] == job["labels"]
    matrix = confusion["matrix"]
    assert sum(map(sum, matrix)) == 24  # 20% of 120 images
    correct = sum(matrix[i][i] for i in range(3))
    assert 100 * correct / 24 == pytest.approx(job["best"]["val_top1"])
    assert [row["count"] for row in confusion["per_class"]] == [sum(row) for row in matrix]
    lines = (server.jobs_dir / trained / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    losses = [r["train_loss"] for r in rows if "train_loss" in r]
    assert losses[-1] < losses[0]
    assert {"val_loss", "val_top1", "val_top5"} <= {k for r in rows for k in r}
    page = requests.get(f"{server.url}/models/{trained}").text
    assert 'data-role="metrics-chart"' in page and "epoch 4" in page
    # Probe images: the first 4 validation images' top classes at each of the 4 validations.
    probes = [json.loads(line) for line in (server.jobs_dir / trained / "probes.jsonl").open()]
    assert [row["epoch"] for row in probes] == [1.0, 2.0, 3.0, 4.0]
    assert all(len(row["probes"]) == 4 for row in probes)
    top = probes[-1]["probes"][0]
    assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]  # best first
    assert 'data-role="probe-strips"' in page


def test_probe_images_picked_by_their_numbers_are_the_ones_followed(server, colors):
    job_id = train(server, colors, train_epochs="1", probe_records="5, 1", model_name="picked")
    assert finished(server, job_id)["status"] == "Done"
    [row] = [json.loads(line) for line in (server.jobs_dir / job_id / "probes.jsonl").open()]
    assert len(row["probes"]) == 2
    # The page shows validation records 5 and 1, in that order, as Explore numbers them.
    val = server.jobs_dir / colors / "val_db"
    pictures = [record.png_data_uri() for record in records_at(val, [5, 1])]
    page = requests.get(f"{server.url}/models/{job_id}").text
    assert page.index(pictures[0]) < page.index(pictures[1])
    explore = requests.get(
        f"{server.url}/datasets/images/classification/explore",
        params={"job_id": colors, "db": "val"},
    )
    assert ">#5</span>" in explore.text
    refused = post(server, MODELS, dataset=colors, model_name="x", probe_records="500")
    assert refused.json()["errors"]["probe_records"] == [
        "the validation images are numbered 0 to 23"
    ]


def test_the_network_picks_the_probe_images_it_gets_most_wrong(server, colors):
    job_id = train(server, colors, train_epochs="2", probe_pick="hardest", model_name="hardest")
    assert finished(server, job_id)["status"] == "Done"
    picks = json.loads((server.jobs_dir / job_id / "probe_picks.json").read_text())["records"]
    assert len(picks) == 4 == len(set(picks)) and all(0 <= i < 24 for i in picks)
    rows = [json.loads(line) for line in (server.jobs_dir / job_id / "probes.jsonl").open()]
    assert [len(row["probes"]) for row in rows] == [4, 4]  # the same four at each validation
    val = server.jobs_dir / colors / "val_db"
    page = requests.get(f"{server.url}/models/{job_id}").text
    assert all(record.png_data_uri() in page for record in records_at(val, picks))
    assert "got most wrong at its first validation" in page


def test_a_compiled_network_trains_and_its_snapshots_load_anywhere(server, colors, trained):
    job_id = train(server, colors, use_compile="1", train_epochs="1", model_name="compiled")
    job = finished(server, job_id)
    assert job["status"] == "Done", job
    log = (server.jobs_dir / job_id / "events.jsonl").read_text()
    assert "torch.compile: the first step took" in log  # the compile time, on the job's page
    compiled = torch.load(server.jobs_dir / job_id / "snapshot_epoch_1.pt", weights_only=True)
    plain = torch.load(server.jobs_dir / trained / "snapshot_epoch_1.pt", weights_only=True)
    assert list(compiled["model"]) == list(plain["model"])  # the network's own names
    image = next((server.data / "colors" / "red").iterdir()).read_bytes()
    answer = post(
        server,
        "/models/images/classification/classify_one.json",
        files={"image_file": ("x.png", image)},
        job_id=job_id,
    )
    assert answer.status_code == 200, answer.text


def test_early_stopping_ends_a_training_that_stopped_getting_better(server, colors):
    # A rate this small barely moves the weights: the first validation stays the best.
    job_id = train(server, colors, train_epochs="20", learning_rate="1e-9", patience="2")
    job = finished(server, job_id)
    assert job["status"] == "Done" and job["progress"] == 1.0
    model = requests.get(f"{server.url}/models/{job_id}.json").json()
    assert model["snapshots"] == [1.0, 2.0, 3.0]  # not 20 epochs
    log = (server.jobs_dir / job_id / "events.jsonl").read_text()
    assert (
        "stopping early: no better validation top-1 for 2 epochs "
        "(patience 2; the best came at epoch 1)" in log
    )


def test_a_learning_rate_range_test_proposes_a_rate_and_opens_the_form_with_it(server, colors):
    fields = {"method": "standard", "standard_networks": "lenet", "dataset": colors}
    answer = post(server, "/models/lr-range-test.json", model_name="lenet", lr_steps="60", **fields)
    assert answer.status_code == 200, answer.text
    job_id = answer.json()["id"]
    assert finished(server, job_id)["status"] == "Done"
    test = requests.get(f"{server.url}/models/{job_id}.json").json()["range_test"]
    rates = [row["lr"] for row in test["rows"]]
    assert rates[0] == pytest.approx(1e-7) and rates == sorted(rates)
    assert 1e-7 < test["suggested"] < 10
    # Where the loss falls fastest: lower there than at the first steps.
    at = min(range(len(rates)), key=lambda i: abs(rates[i] - test["suggested"]))
    assert test["rows"][at + 1]["loss"] < test["rows"][0]["loss"]
    page = requests.get(f"{server.url}/models/{job_id}").text
    assert 'data-role="range-test-chart"' in page
    form = (
        api.login(server.url)
        .get(
            f"{server.url}/models/images/classification/new",
            params={"clone": job_id, "learning_rate": f"{test['suggested']:.3g}"},
        )
        .text
    )
    assert f'value="{test["suggested"]:.3g}"' in form
    refused = post(server, "/models/lr-range-test.json", lr_min="1", lr_max="0.1", **fields)
    assert "lr_max" in refused.json()["errors"]


def test_the_largest_batch_on_a_host_without_gpus_is_measured_against_its_memory(server, colors):
    fields = {"method": "standard", "standard_networks": "lenet", "dataset": colors}
    answer = post(server, "/models/batch-finder.json", model_name="lenet", **fields)
    assert answer.status_code == 200, answer.text
    job_id = answer.json()["id"]
    assert finished(server, job_id)["status"] == "Done"
    found = requests.get(f"{server.url}/models/{job_id}.json").json()["batch_finder"]
    assert found["device"] == "cpu" and found["note"].startswith("no GPU on this host")
    [tried] = found["tries"]
    assert tried["fits"] and tried["images_per_sec"] > 0
    assert 8 <= found["suggested"] <= found["largest"] <= 8192
    form = (
        api.login(server.url)
        .get(
            f"{server.url}/models/images/classification/new",
            params={"clone": job_id, "batch_size": found["suggested"]},
        )
        .text
    )
    assert f'value="{found["suggested"]}"' in form


def test_two_cpu_ranks_take_the_same_step_as_one(server, colors):
    """DDP over 2 gloo ranks, global batch 96 = the whole training set: one step, same weights."""
    common = {
        "train_epochs": "1",
        "batch_size": "96",
        "shuffle": "0",
        "learning_rate": "0.1",
        "solver_type": "SGD",
        "random_seed": "7",
        "val_interval": "1",
    }
    one = train(server, colors, select_gpu_count="1", model_name="one rank", **common)
    two = train(server, colors, select_gpu_count="2", model_name="two ranks", **common)
    for job_id in (one, two):
        assert finished(server, job_id)["status"] == "Done"
    weights = [
        torch.load(server.jobs_dir / j / "snapshot_epoch_1.pt", weights_only=True)["model"]
        for j in (one, two)
    ]
    for name, tensor in weights[0].items():
        assert torch.allclose(tensor, weights[1][name], atol=1e-5), name


def test_abort_mid_epoch_ends_aborted_with_a_snapshot(server, colors):
    job_id = train(
        server,
        colors,
        train_epochs="500",
        batch_size="4",
        snapshot_interval="100",
        model_name="long",
    )

    def progress() -> float:
        return requests.get(f"{server.url}/models/{job_id}.json").json()["progress"]

    wait_until(lambda: progress() > 0.002, 60, interval=0.2)
    # On a host with no GPU the job's page still gets figures: its processes' CPU and memory.
    usage = server.jobs_dir / job_id / "usage.jsonl"
    sample = wait_until(lambda: usage.exists() and usage.read_text().splitlines(), 10)[-1]
    sample = json.loads(sample)
    assert sample["gpus"] == [] and sample["memory"] > 0 and sample["processes"] >= 1
    started = time.monotonic()
    assert post(server, f"/models/{job_id}/abort.json").status_code == 200
    job = finished(server, job_id, timeout=30)
    assert job["status"] == "Aborted"
    assert time.monotonic() - started < 20
    assert len(job["snapshots"]) == 1 and job["snapshots"][0] < 100


def test_fine_tuning_an_earlier_model_on_new_classes(server, trained):
    train_folder = make_class_folders(
        server.data / "two", classes=("red", "gray"), per_class=20, size=(28, 28)
    )
    response = post(
        server,
        "/datasets/images/classification.json",
        method="folder",
        folder_train=str(train_folder),
        resize_width="28",
        resize_height="28",
        dataset_name="two",
    )
    dataset = response.json()["id"]
    job_id = train(
        server,
        dataset,
        method="previous",
        previous_networks=trained,
        train_epochs="2",
        model_name="fine-tuned",
    )
    job = finished(server, job_id)
    assert job["status"] == "Done", job
    assert job["labels"] == ["gray", "red"] and job["snapshots"] == [1.0, 2.0]


def test_a_model_waits_for_its_dataset_and_fails_with_it(server):
    train_folder = server.data / "broken"
    for name in ("a", "b"):
        (train_folder / name).mkdir(parents=True)
        for n in range(20):
            (train_folder / name / f"{n}.png").write_bytes(b"not a png")
    dataset = post(
        server,
        "/datasets/images/classification.json",
        method="folder",
        folder_train=str(train_folder),
        dataset_name="broken",
    ).json()["id"]
    job_id = train(server, dataset, model_name="doomed")
    job = finished(server, job_id)
    assert job["status"] == "Error"
    assert job["error"] == f"dataset broken ({dataset}) ended Error"


def test_a_sweep_of_two_learning_rates_makes_two_jobs(server, colors):
    augmented = {
        "aug_flip": "fliplr",
        "aug_quad_rot": "rot180",
        "aug_rot": "10",
        "aug_scale": "0.1",
        "aug_noise": "0.02",
    }  # every augmentation, end to end
    response = post(
        server,
        MODELS,
        method="standard",
        standard_networks="lenet",
        dataset=colors,
        model_name="sweep",
        learning_rate="0.1, 0.01",
        train_epochs="1",
        **augmented,
    )
    jobs = response.json()["jobs"]
    assert [j["name"] for j in jobs] == ["sweep (learning rate 0.1)", "sweep (learning rate 0.01)"]
    for job in jobs:
        assert finished(server, job["id"])["status"] == "Done"
        params = requests.get(f"{server.url}/models/{job['id']}.json").json()["parameters"]
        assert params["learning_rate"] in ("0.1", "0.01")


def test_an_exploding_loss_stops_the_job_with_advice(server, colors):
    job_id = train(
        server,
        colors,
        learning_rate="1000",
        solver_type="SGD",
        model_name="boom",
        use_mean="none",
        train_epochs="3",
    )
    job = finished(server, job_id)
    assert job["status"] == "Error"
    assert "try a lower learning rate" in job["error"]
