"""Classify One of a model whose network is a user's code (served by a sandboxed child kept warm
per model) against the same network as our own standard LeNet (served by the infer worker).

    .venv/bin/python benchmarks/sandboxed_classify.py [--repeats 50]

A real `digits serve` trains LeNet one epoch twice on the same small dataset: once as the
standard network, once as custom code (the standard network's own source, as Customize gives
it). Then it times the first Classify One of each (the custom one starts its sandbox and loads
the model there) and the median and p95 of the calls after it, the two models alternating.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers

from digits.models.catalog import standalone_source  # noqa: E402
from tests.support.processes import Server, data_roots_of, wait_until  # noqa: E402

CLASSIFY = "/models/images/classification/classify_one.json"


def post(server: Server, path: str, files=None, **fields) -> dict:
    response = requests.post(
        server.url + path, data={"username": "bench", **fields}, files=files, timeout=300
    )
    response.raise_for_status()
    return response.json()


def finished(server: Server, job_id: str) -> None:
    def done():
        status = requests.get(f"{server.url}/jobs/{job_id}.json").json()["status"]
        assert status not in ("Error", "Aborted"), status
        return status == "Done"

    wait_until(done, 600, interval=0.2)


def make_images(root: Path, per_class: int = 20) -> Path:
    rng = np.random.default_rng(0)
    for label in range(4):
        folder = root / f"class{label}"
        folder.mkdir(parents=True)
        for number in range(per_class):
            pixels = rng.integers(0, 255, (28, 28, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{number}.png")
    return root


def train(server: Server, dataset: str, name: str, **fields) -> str:
    model = post(
        server,
        "/models/images/classification.json",
        dataset=dataset,
        train_epochs="1",
        batch_size="16",
        model_name=name,
        **fields,
    )["id"]
    finished(server, model)
    return model


def timed(server: Server, model: str, image: bytes) -> float:
    start = time.perf_counter()
    post(server, CLASSIFY, files={"image_file": ("x.png", image)}, job_id=model)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        jobs_dir = Path(tmp) / "jobs"
        data = data_roots_of(jobs_dir)
        data.mkdir(parents=True)
        server = Server(jobs_dir, workers=True, env={"DIGITS_WARM_UP": "1"})
        try:
            images = make_images(data / "noise")
            dataset = post(
                server,
                "/datasets/images/classification.json",
                method="folder",
                folder_train=str(images),
                folder_pct_val="20",
                resize_width="28",
                resize_height="28",
                dataset_name="noise",
            )["id"]
            finished(server, dataset)
            models = {
                "standard": train(server, dataset, "standard", standard_networks="lenet"),
                "custom code": train(
                    server,
                    dataset,
                    "custom",
                    method="custom",
                    custom_network=standalone_source("lenet"),
                ),
            }
            image = next(images.rglob("*.png")).read_bytes()
            first = {name: timed(server, model, image) for name, model in models.items()}
            later: dict[str, list[float]] = {name: [] for name in models}
            for _ in range(args.repeats):
                for name, model in models.items():
                    later[name].append(timed(server, model, image))
        finally:
            server.discard()
    print("| LeNet's network as | first Classify One | later: median / p95 |")
    print("|---|---|---|")
    for name, times in later.items():
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        print(
            f"| {name} | {first[name] * 1000:.0f} ms | "
            f"{statistics.median(times) * 1000:.0f} / {p95 * 1000:.0f} ms |"
        )


if __name__ == "__main__":
    main()
