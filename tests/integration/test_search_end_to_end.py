"""A hyperparameter search through the real job path: the search on a CPU worker, its trials
ordinary model jobs trained under the trainer, Optuna's study a file in the search's folder."""

import json

import pytest
import requests

from tests.support.api import build_dataset, created, finished, post
from tests.support.imagesets import make_class_folders, make_value_images
from tests.support.processes import wait_until

SEARCH = "/models/search.json"


@pytest.fixture(scope="module")
def colors(server) -> str:
    folder = make_class_folders(server.data / "colors", per_class=40, size=(28, 28))
    dataset = build_dataset(server, folder, "colors")
    assert finished(server, dataset)["status"] == "Done"
    return dataset


def search_fields(dataset: str, **fields) -> dict:
    """LeNet on the colours, 3 epochs of batches of 8, one trial at a time, seeded choices."""
    return {
        "method": "standard",
        "standard_networks": "lenet",
        "dataset": dataset,
        "lr_policy": "fixed",
        "train_epochs": "3",
        "batch_size": "8",
        "random_seed": "1",
        "probe_images": "0",
        "model_name": "colors",
        "search_parallel": "1",
        "search_sampler": "random",
        **fields,
    }


def test_a_search_trains_its_trials_prunes_the_one_behind_and_marks_the_best(server, colors):
    # Random choices seeded 10 come in the order 0.05, 1e-07, 0.05: the second trial cannot
    # learn, and is behind the first from its first validations. 40 short epochs: it is still
    # training when the search sees that.
    fields = search_fields(
        colors,
        train_epochs="40",
        snapshot_interval="20",
        search_space="learning_rate: 0.05, 1e-07",
        search_trials="3",
        search_seed="10",
        search_pruner="median",
    )
    search_id = created(post(server, SEARCH, **fields))
    assert finished(server, search_id, timeout=240)["status"] == "Done"
    search = requests.get(f"{server.url}/models/{search_id}.json").json()["search"]
    trials = search["trials"]
    assert [t["values"]["learning_rate"] for t in trials] == ["0.05", "1e-07", "0.05"]
    assert [t["state"] for t in trials] == ["Done", "Pruned", "Done"]
    pruned = requests.get(f"{server.url}/models/{trials[1]['job_id']}.json").json()
    assert pruned["status"] == "Aborted"
    assert pruned["status_history"][-1]["reason"].startswith("pruned by the search: top-1")
    assert trials[1]["epochs"] < 40 and trials[0]["epochs"] == 40  # a pruned trial stops early
    # The best is a trial that learned; its score is its model's best validation top-1.
    best = trials[search["best"] - 1]
    model = requests.get(f"{server.url}/models/{best['job_id']}.json").json()
    assert best["value"] == model["best"]["val_top1"] == max(t["value"] or 0 for t in trials)
    assert best["value"] > 60
    # Every trial is an ordinary model, filed with the search: Compare shows them together.
    assert model["group"] == "colors" and model["parameters"]["learning_rate"] == "0.05"
    compared = requests.get(f"{server.url}/models/compare.json", params={"group": "colors"})
    assert {m["id"] for m in compared.json()["models"]} == {t["job_id"] for t in trials}
    log = (server.jobs_dir / search_id / "events.jsonl").read_text()
    assert "best: trial" in log
    assert (server.jobs_dir / search_id / "study.journal").stat().st_size > 0


def test_an_aborted_search_stops_its_trial_and_a_resumed_one_goes_on_with_it(server, colors):
    fields = search_fields(
        colors,
        model_name="resumed",
        train_epochs="30",
        search_space="learning_rate: 0.01 .. 0.05",
        search_trials="1",
        search_pruner="none",
    )
    search_id = created(post(server, SEARCH, **fields))

    def trial_with_a_snapshot():
        summary = requests.get(f"{server.url}/models/{search_id}.json").json()["search"]
        trial = summary and summary["trials"] and summary["trials"][0]
        folder = trial and trial["job_id"] and server.jobs_dir / trial["job_id"]
        return trial if folder and list(folder.glob("snapshot_epoch_*.pt")) else None

    trial = wait_until(trial_with_a_snapshot, 120, interval=0.2)
    assert post(server, f"/jobs/{search_id}/abort.json").status_code == 200
    assert finished(server, search_id)["status"] == "Aborted"
    stopped = finished(server, trial["job_id"])
    assert stopped["status"] == "Aborted"
    assert stopped["status_history"][-1]["reason"] == "the search it belongs to was aborted"
    assert post(server, f"/jobs/{search_id}/resume.json").status_code == 200
    wait_until(
        lambda: (
            requests.get(f"{server.url}/jobs/{trial['job_id']}.json").json()["status"] == "Running"
        ),
        60,
    )
    # The resumed trial went on from its snapshot, as a user's Resume would have it.
    events = [json.loads(line) for line in (server.jobs_dir / search_id / "events.jsonl").open()]
    assert any(e.get("line", "").startswith("trial 1 resumed") for e in events)
    post(server, f"/jobs/{search_id}/abort.json")
    assert finished(server, search_id)["status"] == "Aborted"
    assert finished(server, trial["job_id"])["status"] == "Aborted"


def test_a_search_of_a_generic_model_keeps_the_lowest_validation_loss(server):
    folder = server.data / "bright"
    table = make_value_images(folder, count=40, size=28)
    dataset = created(
        post(
            server,
            "/datasets/images/generic.json",
            files={"csv_train": ("values.csv", table)},
            csv_folder=str(folder),
            resize_width="28",
            resize_height="28",
            resize_channels="1",
            dataset_name="bright",
        )
    )
    assert finished(server, dataset)["status"] == "Done"
    fields = search_fields(
        dataset,
        model_name="bright",
        solver_type="ADAM",
        use_mean="none",
        search_space="learning_rate: 0.0001, 0.001",
        search_trials="2",
        search_pruner="none",
    )
    search_id = created(post(server, SEARCH, **fields))
    assert finished(server, search_id, timeout=240)["status"] == "Done"
    search = requests.get(f"{server.url}/models/{search_id}.json").json()["search"]
    assert (search["metric"], search["direction"]) == ("val_loss", "minimize")
    values = [t["value"] for t in search["trials"]]
    assert search["trials"][search["best"] - 1]["value"] == min(values)
    trial = requests.get(f"{server.url}/models/{search['trials'][0]['job_id']}.json").json()
    assert trial["type"] == "image-generic-model" and trial["generic"]
    assert search["trials"][0]["value"] == trial["best"]["val_loss"]  # its lowest


def test_a_deleted_search_stops_its_trials(server, colors):
    fields = search_fields(
        colors,
        model_name="deleted",
        train_epochs="300",
        search_space="learning_rate: 0.01 .. 0.05",
        search_trials="1",
        search_pruner="none",
    )
    search_id = created(post(server, SEARCH, **fields))
    trial = wait_until(
        lambda: (
            (s := requests.get(f"{server.url}/models/{search_id}.json").json()["search"])
            and s["trials"]
            and s["trials"][0]["job_id"]
        ),
        60,
    )
    wait_until(
        lambda: requests.get(f"{server.url}/jobs/{trial}.json").json()["status"] == "Running"
    )
    assert requests.delete(f"{server.url}/jobs/{search_id}.json", data={"username": "fred"}).ok
    stopped = finished(server, trial)
    assert stopped["status"] == "Aborted"
    assert stopped["status_reason"].startswith("the search it belongs to was")
