"""A hyperparameter search with pruning against the same trials trained to the end.

    .venv/bin/python benchmarks/search.py                     # 16 trials of 6 epochs
    .venv/bin/python benchmarks/search.py --trials 8 --epochs 4

A real `digits serve` (its own workers, embedded broker) builds a dataset of noisy digits-like
images (10 classes, 28x28 gray: a fixed pattern per class under heavy noise, so that the
learning rate, batch and solver decide how well LeNet does). Then two searches over the same
space run one after the other, each with the random sampler and the same seed, so they try the
same trials in the same order: one with the median pruner, one with none (every trial trained
to the end, what a person running 16 trainings by hand gets). Printed: each search's wall time
from submit to Done, the epochs its trials trained, how many trials were stopped early, and the
best validation top-1 each found.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers

from tests.support.processes import Server, data_roots_of, wait_until  # noqa: E402

SPACE = "learning_rate: 0.00001 .. 1\nbatch_size: 16, 32, 64\nsolver_type: SGD, ADAM"
CLASSES = 10
STATES = ("Done", "Pruned", "Failed")


def make_images(root: Path, per_class: int) -> Path:
    rng = np.random.default_rng(0)
    patterns = rng.integers(0, 256, (CLASSES, 28, 28))
    for label in range(CLASSES):
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            noise = rng.integers(0, 256, (28, 28))
            pixels = 0.3 * patterns[label] + 0.7 * noise
            Image.fromarray(pixels.astype(np.uint8), "L").save(folder / f"{n:04d}.png")
    return root


def post(server: Server, path: str, **fields) -> dict:
    response = requests.post(server.url + path, data={"username": "bench", **fields})
    assert response.status_code == 200, response.text
    return response.json()


def done(server: Server, job_id: str, timeout: float = 7200) -> dict:
    def ended():
        job = requests.get(f"{server.url}/models/{job_id}.json").json()
        return job if job["status"] in ("Done", "Error", "Aborted") else None

    job = wait_until(ended, timeout=timeout, interval=0.5)
    assert job["status"] == "Done", job
    return job


def search(server: Server, dataset: str, pruner: str, trials: int, epochs: int) -> dict:
    started = time.perf_counter()
    job = post(
        server,
        "/models/search.json",
        method="standard",
        standard_networks="lenet",
        dataset=dataset,
        lr_policy="fixed",
        train_epochs=str(epochs),
        random_seed="1",
        probe_images="0",
        model_name=f"pruner {pruner}",
        search_space=SPACE,
        search_trials=str(trials),
        search_parallel="1",
        search_sampler="random",
        search_seed="0",
        search_pruner=pruner,
    )
    summary = done(server, job["id"])["search"]
    seconds = time.perf_counter() - started
    finished = [t for t in summary["trials"] if t["value"] is not None]
    return {
        "seconds": seconds,
        "epochs": sum(t["epochs"] or 0 for t in summary["trials"]),
        "pruned": sum(t["state"] == "Pruned" for t in summary["trials"]),
        "states": {s: [t["state"] for t in summary["trials"]].count(s) for s in STATES},
        "best": max(t["value"] for t in finished),
        "trials": summary["trials"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--per-class", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = Path(tmp) / "jobs"
        data_roots_of(jobs).mkdir(parents=True)
        images = make_images(data_roots_of(jobs) / "noisy", args.per_class)
        server = Server(jobs, env={"DIGITS_WARM_UP": "1"})
        try:
            dataset = post(
                server,
                "/datasets/images/classification.json",
                method="folder",
                folder_train=str(images),
                folder_pct_val="20",
                resize_width="28",
                resize_height="28",
                encoding="png",
                dataset_name="noisy",
            )["id"]
            wait_until(
                lambda: (
                    requests.get(f"{server.url}/datasets/{dataset}.json").json()["status"] == "Done"
                ),
                timeout=600,
            )
            pruned = search(server, dataset, "median", args.trials, args.epochs)
            full = search(server, dataset, "none", args.trials, args.epochs)
        finally:
            server.stop()
    same = [t["values"] for t in pruned["trials"]] == [t["values"] for t in full["trials"]]
    print(f"{args.trials} trials of {args.epochs} epochs, the same values in both: {same}")
    for name, result in (("median pruner", pruned), ("no pruning", full)):
        print(
            f"{name:>14}: {result['seconds']:6.0f} s, {result['epochs']:5.1f} epochs trained, "
            f"{result['pruned']:2d} trials stopped early, best top-1 {result['best']:.1f}%; "
            + ", ".join(f"{count} {state.lower()}" for state, count in result["states"].items())
        )
        for trial in result["trials"]:
            if trial["state"] == "Failed":
                print(f"{'':>16}trial {trial['number']} failed: {trial['note']}")
    print(
        f"pruning: {pruned['seconds'] / full['seconds']:.2f} of the time, "
        f"{pruned['epochs'] / full['epochs']:.2f} of the epochs, "
        f"best {pruned['best'] - full['best']:+.1f} points"
    )


if __name__ == "__main__":
    main()
