"""Transfer learning, measured honestly on data made here: does a network that learned some
classes learn *other* classes from a few images each better than the same network from scratch?

    .venv/bin/python benchmarks/transfer.py                      # 10, 20 and 30 images a class
    .venv/bin/python benchmarks/transfer.py --shots 20 --pretrain-epochs 6

Through a real `digits serve` and its JSON API, as a user would:
1. Synthetic shapes (filled and outlined circles, squares, triangles, crosses, bars, diamonds:
   random colours, sizes, positions, noise), 32x32. Classes A (six shapes) pretrain ResNet-18
   on 200 images each (Adam, rate 0.001, batch 16, as every run here).
2. Its download is imported (`/pretrained_models/upload_archive.json`).
3. For each number of images a class, classes B (four *other* shapes) train twice for the same
   epochs, batch and rate: fine-tuned from the import (`method=pretrained`), and from scratch.
4. Both classify the same 50 held-out images of each B class (Classify Many with labels): top-1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers

from tests.support.processes import Server, data_roots_of, wait_until  # noqa: E402

SIZE = 32
SHAPES_A = ["circle", "square", "triangle", "cross", "ring", "hbar"]
SHAPES_B = ["diamond", "vbar", "outline_square", "x"]
HELD_OUT = 50


def draw(shape: str, rng: np.random.Generator) -> Image.Image:
    """One shape, its colour, size and place random, on a random background with noise."""
    background = tuple(int(v) for v in rng.integers(0, 256, 3))
    colour = tuple(int(v) for v in (np.array(background) + 128 + rng.integers(-40, 40, 3)) % 256)
    image = Image.new("RGB", (SIZE, SIZE), background)
    pen = ImageDraw.Draw(image)
    r = int(rng.integers(7, 13))
    cx, cy = (int(v) for v in rng.integers(r + 1, SIZE - r - 1, 2))
    box = [cx - r, cy - r, cx + r, cy + r]
    width = max(2, r // 3)
    if shape == "circle":
        pen.ellipse(box, fill=colour)
    elif shape == "ring":
        pen.ellipse(box, outline=colour, width=width)
    elif shape == "square":
        pen.rectangle(box, fill=colour)
    elif shape == "outline_square":
        pen.rectangle(box, outline=colour, width=width)
    elif shape == "triangle":
        pen.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    elif shape == "diamond":
        pen.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=colour)
    elif shape == "cross":
        pen.rectangle([cx - width, cy - r, cx + width, cy + r], fill=colour)
        pen.rectangle([cx - r, cy - width, cx + r, cy + width], fill=colour)
    elif shape == "x":
        pen.line([cx - r, cy - r, cx + r, cy + r], fill=colour, width=width)
        pen.line([cx - r, cy + r, cx + r, cy - r], fill=colour, width=width)
    elif shape == "hbar":
        pen.rectangle([cx - r, cy - width, cx + r, cy + width], fill=colour)
    elif shape == "vbar":
        pen.rectangle([cx - width, cy - r, cx + width, cy + r], fill=colour)
    pixels = np.asarray(image, dtype=np.int16) + rng.integers(-20, 20, (SIZE, SIZE, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_folder(root: Path, shapes: list[str], count: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for shape in shapes:
        (root / shape).mkdir(parents=True, exist_ok=True)
        for n in range(count):
            draw(shape, rng).save(root / shape / f"{n:04d}.png")
    return root


def post(server: Server, path: str, files=None, **fields) -> dict:
    answer = requests.post(server.url + path, data={"username": "bench", **fields}, files=files)
    answer.raise_for_status()
    return answer.json()


def finished(server: Server, job_id: str) -> dict:
    def ended():
        job = requests.get(f"{server.url}/jobs/{job_id}.json").json()
        return job if job["status"] in ("Done", "Error", "Aborted") else None

    job = wait_until(ended, 3600, interval=0.5)
    if job["status"] != "Done":
        raise SystemExit(f"job {job_id} ended {job['status']}: {job.get('error')}")
    return job


def dataset(server: Server, folder: Path, name: str, pct_val: int) -> str:
    job = post(
        server,
        "/datasets/images/classification.json",
        method="folder",
        folder_train=str(folder),
        folder_pct_val=str(pct_val),
        folder_train_min_per_class="1",
        resize_width=str(SIZE),
        resize_height=str(SIZE),
        dataset_name=name,
    )
    finished(server, job["id"])
    return job["id"]


def train(server: Server, dataset_id: str, epochs: int, **fields) -> tuple[str, float]:
    fields = {"method": "standard", "standard_networks": "resnet18"} | fields
    job = post(
        server,
        "/models/images/classification.json",
        dataset=dataset_id,
        train_epochs=str(epochs),
        batch_size="16",
        solver_type="ADAM",
        learning_rate="0.001",
        lr_policy="fixed",
        use_mean="none",
        model_name=f"{fields['method']} {dataset_id}",
        random_seed="1",
        **fields,
    )
    start = time.monotonic()
    finished(server, job["id"])
    return job["id"], time.monotonic() - start


def top1(server: Server, model_id: str, listing: Path) -> float:
    with open(listing, "rb") as f:
        answer = post(
            server,
            "/models/images/classification/classify_many.json",
            files={"image_list": ("held_out.txt", f)},
            job_id=model_id,
        )
    return answer["accuracy"]["top1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shots", default="10,20,30", help="images a class for classes B")
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=15, help="epochs on classes B")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = Path(tmp) / "jobs"
        data = data_roots_of(jobs)
        server = Server(jobs)
        try:
            started = time.monotonic()
            pretrain_set = dataset(
                server, make_folder(data / "a", SHAPES_A, 200, seed=1), "shapes A", 10
            )
            pretrained, _ = train(server, pretrain_set, args.pretrain_epochs)
            best = requests.get(f"{server.url}/models/{pretrained}.json").json()["best"]
            archive = requests.get(f"{server.url}/models/{pretrained}/download.tar.gz").content
            imported = post(
                server,
                "/pretrained_models/upload_archive.json",
                files={"archive": ("shapes_a.tar.gz", archive)},
                job_name="shapes A",
            )["id"]
            finished(server, imported)
            print(
                f"pretrained on {len(SHAPES_A)} classes x 200 images in "
                f"{time.monotonic() - started:.0f} s (validation top-1 "
                f"{best['val_top1']:.1f}%), imported"
            )
            held_out = make_folder(data / "held_out", SHAPES_B, HELD_OUT, seed=99)
            listing = Path(tmp) / "held_out.txt"
            listing.write_text(
                "".join(f"{p} {p.parent.name}\n" for p in sorted(held_out.glob("*/*.png")))
            )
            print(
                "| images a class | fine-tuned top-1 | from scratch top-1 | "
                "fine-tune time | scratch time |"
            )
            print("|---|---|---|---|---|")
            for shots in (int(s) for s in args.shots.split(",")):
                folder = make_folder(data / f"b{shots}", SHAPES_B, shots, seed=shots)
                few = dataset(server, folder, f"shapes B x{shots}", 0)
                tuned, tuned_s = train(
                    server, few, args.epochs, method="pretrained", pretrained_networks=imported
                )
                scratch, scratch_s = train(server, few, args.epochs)
                print(
                    f"| {shots} | {top1(server, tuned, listing):.1f}% | "
                    f"{top1(server, scratch, listing):.1f}% | {tuned_s:.0f} s | {scratch_s:.0f} s |"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
