"""Resume: an Aborted model goes on from its snapshot to the weights of an uninterrupted run."""

import json

import torch

from tests.support.api import build_dataset, finished, post, train
from tests.support.imagesets import make_class_folders


def test_resume_after_abort_ends_with_the_weights_of_an_uninterrupted_run(server):
    """Abort in the second epoch, Resume: the same weights as 4 epochs straight (CPU, seeded)."""
    folder = make_class_folders(server.data / "resume", per_class=40, size=(28, 28))
    dataset = build_dataset(server, folder, "resume")
    common = {
        "train_epochs": "4",
        "batch_size": "32",
        "learning_rate": "0.05",
        "random_seed": "3",
        "aug_flip": "fliplr",
        "solver_type": "ADAM",
    }
    resumed = train(server, dataset, model_name="aborted, resumed", **common)
    # It waits for its dataset; a user's Abort is already there when it starts, so the trainer
    # stops at its first look (step 5 of 12, in the second epoch) and writes a snapshot there.
    (server.jobs_dir / resumed / "abort").touch()
    assert finished(server, dataset)["status"] == "Done"
    aborted = finished(server, resumed)
    assert aborted["status"] == "Aborted" and aborted["snapshots"] == [1.0, 1.6667]
    assert aborted["resume_point"] == "the snapshot of epoch 1.6667"

    straight = train(server, dataset, model_name="straight", **common)
    assert post(server, f"/models/{resumed}/resume.json").status_code == 200
    for job_id in (straight, resumed):
        assert finished(server, job_id)["status"] == "Done"
    weights = [
        torch.load(server.jobs_dir / j / "snapshot_epoch_4.pt", weights_only=True)["model"]
        for j in (straight, resumed)
    ]
    for name, tensor in weights[0].items():
        assert torch.allclose(tensor, weights[1][name], atol=1e-6), name
    epochs = [
        json.loads(line)["epoch"]
        for line in (server.jobs_dir / resumed / "metrics.jsonl").read_text().splitlines()
    ]
    assert epochs == sorted(epochs) and epochs[-1] == 4  # the chart goes on where it stopped
    again = post(server, f"/models/{resumed}/resume.json")
    assert again.status_code == 400 and "only an Aborted or Error job" in again.text
