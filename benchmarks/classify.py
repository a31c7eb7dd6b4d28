"""Classifying with a trained model: Classify One's latency through the API, and Classify Many's
images per second, each against a plain in-process PyTorch baseline on the same images.

    .venv/bin/python benchmarks/classify.py                 # LeNet (28x28) and AlexNet (227x227)
    .venv/bin/python benchmarks/classify.py --networks lenet --many 500 --broker redis

A real `digits serve` (its own workers, embedded broker) builds a small dataset per network and
trains it one epoch, so that there is a snapshot. Then:
- Classify One: `requests` uploads one image to classify_one.json, again and again after a first
  (model-loading) call; the baseline opens, resizes and classifies the same image in this process
  with the same network, already loaded.
- Classify Many: a list of images as a background job, timed from Running to Done (the worker
  starts a process and loads the model inside that); the baseline is a plain loop that opens and
  resizes the same images and classifies them in batches of 64.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers

from digits.models import networks  # noqa: E402
from tests.support.processes import RedisServer, Server, data_roots_of, wait_until  # noqa: E402

SIZES = {"lenet": 28, "alexnet": 227}
CLASSES = 4


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def make_images(root: Path, count: int, size: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for n in range(count):
        folder = root / f"class_{n % CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        base = np.array([(n % CLASSES) * 60, 100, 255 - (n % CLASSES) * 60])
        pixels = np.clip(base + rng.integers(0, 50, (size + 8, size + 8, 3)), 0, 255)
        paths.append(folder / f"{n:05d}.png")
        Image.fromarray(pixels.astype(np.uint8)).save(paths[-1], compress_level=1)
    return paths


def finished(server: Server, job_id: str) -> dict:
    def ended():
        job = requests.get(f"{server.url}/jobs/{job_id}.json").json()
        return job if job["status"] in ("Done", "Error", "Aborted") else None

    job = wait_until(ended, timeout=1800, interval=0.1)
    assert job["status"] == "Done", job
    return job


def post(server: Server, path: str, files=None, **fields) -> dict:
    response = requests.post(server.url + path, data={"username": "bench", **fields}, files=files)
    assert response.status_code == 200, response.text
    return response.json()


def train_model(server: Server, network: str, images: Path) -> tuple[str, str]:
    size = SIZES[network]
    dataset = post(
        server,
        "/datasets/images/classification.json",
        method="folder",
        folder_train=str(images),
        folder_pct_val="10",
        resize_width=str(size),
        resize_height=str(size),
        dataset_name=network,
    )["id"]
    finished(server, dataset)
    model = post(
        server,
        "/models/images/classification.json",
        method="standard",
        standard_networks=network,
        train_epochs="1",
        batch_size="16",
        dataset=dataset,
        model_name=network,
        learning_rate="0.01",
    )["id"]
    finished(server, model)
    return dataset, model


def plain_classifier(server: Server, network: str, model_id: str, dataset_id: str):
    """The same network and mean, loaded here: what a hand-written script would do."""
    size = SIZES[network]
    snapshot = torch.load(server.jobs_dir / model_id / "snapshot_epoch_1.pt", weights_only=True)
    net = networks.create(network, CLASSES, 3, size, size)
    net.load_state_dict(snapshot["model"])
    net.eval()
    mean = np.load(server.jobs_dir / dataset_id / "mean.npy").transpose(2, 0, 1)
    mean = torch.from_numpy(np.ascontiguousarray(mean, dtype=np.float32))

    def load(path: Path) -> torch.Tensor:
        image = Image.open(path).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        return torch.from_numpy(np.asarray(image).transpose(2, 0, 1).copy())

    def classify(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.softmax(net((batch.float() - mean) / 255.0), dim=1)

    return load, classify


def bench_one(server, network, model_id, dataset_id, image: Path, repeats: int) -> dict:
    load, classify = plain_classifier(server, network, model_id, dataset_id)
    data = image.read_bytes()

    def ours() -> None:
        post(
            server,
            "/models/images/classification/classify_one.json",
            files={"image_file": ("image.png", data)},
            job_id=model_id,
        )

    ours()  # the worker loads the model once; then it stays warm
    timings = {"ours": [], "plain": []}
    for _ in range(repeats):
        start = time.perf_counter()
        ours()
        timings["ours"].append(time.perf_counter() - start)
        start = time.perf_counter()
        classify(load(image)[None])
        timings["plain"].append(time.perf_counter() - start)
    return {
        name: (statistics.median(v) * 1000, percentile(v, 0.95) * 1000)
        for name, v in timings.items()
    }


def bench_many(server, network, model_id, dataset_id, images: list[Path]) -> dict:
    listing = "\n".join(str(p) for p in images)
    answer = post(
        server,
        "/models/images/classification/classify_many.json",
        job_id=model_id,
        files={"image_list": ("list.txt", listing)},
    )
    job = finished(server, answer["job_id"])
    history = {change["status"]: change["time"] for change in job["status_history"]}
    ours = len(images) / (history["Done"] - history["Running"])
    # The same job once its process has started and loaded the model: first log to last batch.
    lines = (server.jobs_dir / answer["job_id"] / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    started = next(e["time"] for e in events if e["update"] == "log")
    ended = [e["time"] for e in events if e["update"] == "progress"][-1]
    warm = len(images) / (ended - started)
    load, classify = plain_classifier(server, network, model_id, dataset_id)
    start = time.perf_counter()
    for first in range(0, len(images), 64):
        classify(torch.stack([load(p) for p in images[first : first + 64]]))
    plain = len(images) / (time.perf_counter() - start)
    return {"ours": ours, "warm": warm, "plain": plain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", default="lenet,alexnet")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--broker", choices=["embedded", "redis"], default="embedded", help="the server's broker"
    )
    parser.add_argument(
        "--many",
        type=int,
        default=0,
        help="images for Classify Many (default: 2000 for LeNet, 300 for AlexNet)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        jobs_dir = Path(tmp) / "jobs"
        data = data_roots_of(jobs_dir)
        data.mkdir(parents=True)
        redis = RedisServer(Path(tmp)) if args.broker == "redis" else None
        warm = {"DIGITS_WARM_UP": "1"}  # as `digits serve` runs by default
        server = Server(jobs_dir, broker_url=redis.url if redis else None, workers=True, env=warm)
        server.jobs_dir = jobs_dir
        try:
            rows = []
            for network in args.networks.split(","):
                count = args.many or (2000 if network == "lenet" else 300)
                paths = make_images(data / network, count, SIZES[network])
                dataset_id, model_id = train_model(server, network, data / network)
                one = bench_one(server, network, model_id, dataset_id, paths[0], args.repeats)
                many = bench_many(server, network, model_id, dataset_id, paths)
                rows.append((network, one, many, count))
        finally:
            server.stop()
            if redis:
                redis.stop()
    print(f"broker: {args.broker}")
    print_tables(rows)


def print_tables(rows: list) -> None:
    print("| network | Classify One median / p95: ours | plain | ratio of medians |")
    print("|---|---|---|---|")
    for network, one, _, _ in rows:
        ours, plain = one["ours"], one["plain"]
        print(
            f"| {network} | {ours[0]:.0f} / {ours[1]:.0f} ms | {plain[0]:.1f} / "
            f"{plain[1]:.1f} ms | {ours[0] / plain[0]:.1f} |"
        )
    print()
    print("| network, images | Classify Many images/s: job | after start-up | plain | ratios |")
    print("|---|---|---|---|---|")
    for network, _, many, count in rows:
        print(
            f"| {network}, {count} | {many['ours']:,.0f} | {many['warm']:,.0f} | "
            f"{many['plain']:,.0f} | {many['ours'] / many['plain']:.2f}, "
            f"{many['warm'] / many['plain']:.2f} |"
        )


if __name__ == "__main__":
    main()
